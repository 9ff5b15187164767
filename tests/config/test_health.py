"""/healthz and /readyz against the real database and a real Redis broker, one that answers and
one that does not (a local port where nothing listens)."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings

from inventory import health

REPO = Path(__file__).resolve().parents[2]
LOCAL_REDIS = "redis://127.0.0.1:6379/4"


@pytest.fixture
def live_broker(settings):
    """A Redis broker that answers: the configured one, or the local Redis."""
    url = settings.CELERY_BROKER_URL or LOCAL_REDIS
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis answers at {url}: {exc}")
    settings.CELERY_BROKER_URL = url
    return url


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_broker(settings):
    """A broker URL with a password, pointing where nothing answers."""
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://:hunter2-broker@127.0.0.1:{port}/4"
    return port


def test_healthz_needs_no_login_and_checks_database_and_broker(client, db, live_broker):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"web": "ok", "database": "ok", "broker": "ok"},
    }
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_ready_with_migrations_applied_and_a_live_broker(client, db, live_broker):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok"},
    }


def test_without_a_broker_both_say_so_and_readyz_is_still_ready(client, db, settings):
    settings.CELERY_BROKER_URL = ""
    assert client.get("/healthz").json()["checks"]["broker"] == "not configured"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "not configured"


def test_an_unreachable_broker_fails_readiness_but_not_liveness(client, db, dead_broker):
    live = client.get("/healthz")
    assert live.status_code == 200
    assert live.json() == {
        "status": "degraded",
        "checks": {"web": "ok", "database": "ok", "broker": "failing"},
    }
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["broker"] == "failing"
    for body in (live.content.decode(), ready.content.decode()):
        assert "127.0.0.1" not in body and str(dead_broker) not in body
        assert "hunter2" not in body and "redis" not in body.lower()


def test_the_broker_client_gives_up_after_a_short_timeout(db, dead_broker):
    # A closed port refuses at once; these bound a host that never answers.
    client = health.broker_client(settings.CELERY_BROKER_URL)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == health.TIMEOUT_SECONDS
    assert kwargs["socket_timeout"] == health.TIMEOUT_SECONDS


def test_readyz_reports_pending_migrations(tmp_path):
    """A database nobody has migrated: the process answers, but is not ready."""
    probe = (
        "from django.test import Client; r = Client(HTTP_HOST='localhost').get('/readyz'); "
        "print(r.status_code, r.content.decode())"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "SECRET_KEY": "readyz-test",
        "SECURE_COOKIES": "false",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "503"
    assert '"migrations": "pending"' in body and '"database": "ok"' in body


def test_probes_are_not_redirected_to_https(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/accounts/login/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
