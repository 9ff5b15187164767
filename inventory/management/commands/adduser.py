"""``manage.py adduser``: create a Daylight user with one of the three roles, or change one."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from inventory import roles
from inventory.roles import ROLES
from inventory.services import audit


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


def grant_role(user, role: str) -> None:
    """Make ``role`` the user's only role; admins also get the Django admin site."""
    present = set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True))
    missing = [name for name in ROLES if name not in present]
    if missing:
        raise CommandError(f"Role groups {', '.join(missing)} are missing: run migrate first.")
    roles.grant_role(user, role)


def save_user(username: str, role: str, password: str | None, *, update=False):
    """Create ``username`` with ``role`` (or, with ``update``, change an existing one's role and,
    when given, password). Returns the user and whether it was created."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is not None and not update:
            raise CommandError(
                f"User {username!r} exists already; pass --update to change their role."
            )
        created = user is None
        before = None if created else {"role": role_names(user), "active": user.is_active}
        if created:
            user = User(username=check_username(User, username))
        if password is not None:
            check_password_strength(password, user)
            user.set_password(password)
        grant_role(user, role)
        action = "user.create" if created else "user.update"
        audit(None, action, user, before=before, after={"role": role, "active": user.is_active})
    return user, created


def role_names(user) -> list[str]:
    return sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))


def check_username(User, username: str) -> str:
    try:
        return User._meta.get_field(User.USERNAME_FIELD).clean(username, None)
    except ValidationError as exc:
        raise CommandError(f"Username {username!r} rejected: " + " ".join(exc.messages)) from None


def check_password_strength(password: str, user) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise CommandError("Password rejected: " + " ".join(exc.messages)) from None


class Command(BaseCommand):
    help = (
        "Create a user with a role: viewer (read-only), reconciler (triages and assigns "
        "owners) or admin (also configures sources and the Django admin). Without --password "
        "a strong password is generated and printed once. An existing user is an error unless "
        "--update is given: then the role is replaced, and the password too when --password "
        "is given (otherwise it is kept)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument(
            "--password",
            help="Use this password (it may be left in your shell history; omit to generate one).",
        )
        parser.add_argument(
            "--update", action="store_true", help="Change the role of an existing user."
        )

    def handle(self, *args, username, role, password=None, update=False, **options):
        generated = password is None and not self.user_exists(username, update)
        if generated:
            password = generate_password()
        user, created = save_user(username, role, password, update=update)
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {user.get_username()} with role {role}."))
        if generated:
            self.stdout.write(f"Password (shown only now): {password}")

    @staticmethod
    def user_exists(username, update) -> bool:
        """True when an existing user is being updated, whose password is then kept."""
        return update and get_user_model().objects.filter(username=username).exists()
