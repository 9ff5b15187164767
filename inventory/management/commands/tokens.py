"""``manage.py tokens``: issue, list and revoke API tokens. Every change is audited."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from inventory import services
from inventory.models import ApiToken, TokenScope


class Command(BaseCommand):
    help = "Issue (shown once), list or revoke API tokens."

    def add_arguments(self, parser):
        verbs = parser.add_subparsers(dest="verb", required=True)
        create = verbs.add_parser("create", help="Issue a token for a user; prints it once.")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="What will use it.")
        create.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        create.add_argument("--expires-days", type=int, default=None)
        listing = verbs.add_parser("list", help="Tokens, newest first (never their secrets).")
        listing.add_argument("--user", default=None)
        revoke = verbs.add_parser("revoke", help="Refuse a token from now on.")
        revoke.add_argument("id", type=int)

    def handle(self, *args, verb, **options):
        getattr(self, f"_{verb}")(**options)

    def _create(self, username, name, scope, expires_days, **_):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token = ApiToken(user=user, name=name, scope=scope, expires_at=expires_at)
        secret = services.issue_api_token(token, None)
        self.stdout.write(f"Token {token.pk} for {username} ({token.get_scope_display()}):")
        self.stdout.write(secret)
        self.stdout.write("It is shown only now: keep it in a secret store.")

    def _list(self, user, **_):
        tokens = ApiToken.objects.select_related("user")
        if user:
            tokens = tokens.filter(user__username=user)
        now = timezone.now()
        for token in tokens:
            state = (
                "active" if token.is_usable(now) else "revoked" if token.revoked_at else "expired"
            )
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.pk:>5}  {token.prefix}…  {token.user.get_username():<20} {token.scope:<5} "
                f"{state:<7}  last used {used:<16}  {token.name}"
            )

    def _revoke(self, id, **_):
        token = ApiToken.objects.filter(pk=id).first()
        if token is None:
            raise CommandError(f"No token {id}.")
        if services.revoke_api_token(token, None):
            self.stdout.write(f"Revoked token {id} ({token}).")
        else:
            self.stdout.write(f"Token {id} was revoked already.")
