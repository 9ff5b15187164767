"""``manage.py up``: the one-command start, its setup in-process and the real thing as a process."""

import os
import signal
import socket
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from inventory.management.commands.up import prepare, read_login, welcome
from inventory.models import Asset, CollectionRun, Source
from inventory.roles import role_of
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
SMALL_DEMO = {"days": 1, "scale": 1}


def test_first_start_creates_admin_and_keeps_its_login_private(tmp_path):
    login_file = tmp_path / ".daylight-login"

    login = prepare(login_file=login_file, demo=False)

    assert login.username == "admin" and len(login.password) >= 20
    admin = User.objects.get()
    assert admin.username == "admin" and admin.check_password(login.password)
    assert role_of(admin) == "admin" and admin.is_superuser
    assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
    assert login_file.read_text() == f"admin\n{login.password}\n"
    assert not Asset.objects.exists()


def test_later_starts_print_the_same_login_and_create_nobody(tmp_path):
    login_file = tmp_path / ".daylight-login"
    first = prepare(login_file=login_file, demo=False)

    again = prepare(login_file=login_file, demo=False)

    assert again == first
    assert User.objects.count() == 1
    message = welcome(8123, again)
    assert message == (
        f"Daylight is running at http://127.0.0.1:8123/ — sign in as admin / {first.password}"
    )


def test_existing_users_mean_no_admin_is_made_and_no_login_is_claimed(tmp_path):
    make_user("ops", "admin")
    login_file = tmp_path / ".daylight-login"

    assert prepare(login_file=login_file, demo=False) is None

    assert list(User.objects.values_list("username", flat=True)) == ["ops"]
    assert not login_file.exists()
    assert "sign in with your account" in welcome(8000, None)


def test_a_stale_login_file_is_not_trusted(tmp_path):
    login_file = tmp_path / ".daylight-login"
    prepare(login_file=login_file, demo=False)
    login_file.write_text("admin\nnot-the-password\n")
    assert read_login(login_file) is None
    login_file.write_text("garbage")
    assert read_login(login_file) is None


def test_an_empty_inventory_gets_the_demo_once(tmp_path):
    login_file = tmp_path / ".daylight-login"

    prepare(login_file=login_file, demo_options=SMALL_DEMO)

    assert set(Source.objects.values_list("name", flat=True)) == {"demo-estate", "demo-lab"}
    assert Asset.objects.exists()
    runs = CollectionRun.objects.count()
    prepare(login_file=login_file, demo_options=SMALL_DEMO)
    assert CollectionRun.objects.count() == runs


def test_no_demo_leaves_the_inventory_empty(tmp_path):
    prepare(login_file=tmp_path / "login", demo=False)
    assert not Source.objects.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, deadline):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def test_up_serves_the_login_page(tmp_path):
    port = free_port()
    login_file = tmp_path / "login"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'daylight.sqlite3'}",
        "SECRET_KEY": "test-only",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "up.log").open("w+")
    command = ["uv", "run", "python", "manage.py", "up", "--port", str(port), "--no-demo"]
    process = subprocess.Popen(
        [*command, "--login-file", str(login_file)],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        served = wait_for_port(port, process, time.monotonic() + 120)
        output = (tmp_path / "up.log").read_text()
        assert served, output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as r:
            assert r.status == 200
            assert b'name="password"' in r.read()
        username, password = login_file.read_text().splitlines()
        assert username == "admin"
        assert f"running at http://127.0.0.1:{port}/ — sign in as admin / {password}" in output
        assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
