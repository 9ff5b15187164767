"""``manage.py up``: the one-command start of an embedded Daylight.

Migrates, creates the first admin (its login kept in BASE_DIR/.daylight-login, readable by its
owner only), loads the demo estate into an empty inventory, then serves on 127.0.0.1.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from inventory.models import Asset
from inventory.roles import ADMIN

from .adduser import generate_password, save_user

FIRST_USER = "admin"
LOGIN_FILE_NAME = ".daylight-login"


@dataclass(frozen=True)
class Login:
    """A username and password that open this Daylight."""

    username: str
    password: str


def default_login_file() -> Path:
    return Path(settings.BASE_DIR) / LOGIN_FILE_NAME


def prepare(*, login_file: Path, demo: bool = True, stdout=None, demo_options=None):
    """Everything ``up`` does before serving. Returns the saved login, or None when the
    database's users were made some other way (then the file has no login for them)."""
    call_command("migrate", interactive=False, verbosity=0)
    if not get_user_model().objects.exists():
        create_first_user(login_file)
    if demo and not Asset.objects.exists():
        call_command("demo", stdout=stdout, **(demo_options or {}))
    return read_login(login_file)


def create_first_user(login_file: Path) -> Login:
    """Create the ``admin`` user, saving its generated password first so it is never lost."""
    login = Login(FIRST_USER, generate_password())
    write_login(login_file, login)
    save_user(login.username, ADMIN, login.password)
    return login


def write_login(login_file: Path, login: Login) -> None:
    """Write the file with mode 600 from the start: it is never readable by anyone else."""
    login_file.unlink(missing_ok=True)
    descriptor = os.open(login_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(f"{login.username}\n{login.password}\n")


def read_login(login_file: Path) -> Login | None:
    """The saved login, if there is one and it still opens an account of this database."""
    try:
        username, password = login_file.read_text(encoding="utf-8").splitlines()[:2]
    except (OSError, ValueError):
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not user.check_password(password):
        return None
    return Login(username, password)


def welcome(port: int, login: Login | None) -> str:
    url = f"http://127.0.0.1:{port}/"
    if login is None:
        return (
            f"Daylight is running at {url} — sign in with your account "
            "(python manage.py adduser NAME --role admin creates one)"
        )
    return f"Daylight is running at {url} — sign in as {login.username} / {login.password}"


class Command(BaseCommand):
    help = (
        "Start Daylight on this machine: migrate, create the first admin (login saved in "
        ".daylight-login), load the demo estate into an empty inventory, and serve on "
        "127.0.0.1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Default 8000.")
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo estate.")
        parser.add_argument(
            "--login-file",
            type=Path,
            default=None,
            help=f"Where the first admin's login is kept (default BASE_DIR/{LOGIN_FILE_NAME}).",
        )

    def handle(self, *args, port, no_demo, login_file=None, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port.")
        self.stdout.write("Preparing the database…")
        login = prepare(
            login_file=login_file or default_login_file(), demo=not no_demo, stdout=self.stdout
        )
        self.stdout.write(self.style.SUCCESS(welcome(port, login)))
        # Plain HTTP on loopback, whatever DATABASE_URL says: no HTTPS redirect, HSTS or
        # secure-only cookies, which would make the page unreachable or the sign-in impossible.
        settings.SECURE_SSL_REDIRECT = False
        settings.SECURE_HSTS_SECONDS = 0
        settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
