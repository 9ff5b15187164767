"""API tokens: ``Authorization: Token <secret>`` (or ``Bearer <secret>``), looked up by hash."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from inventory.models import ApiToken
from inventory.models.tokens import hash_secret

KEYWORDS = {b"token", b"bearer"}
# last_used_at is a hint for people reviewing tokens; one write a minute per token is plenty.
TOUCH_EVERY = timedelta(minutes=1)
MAX_SECRET = 200


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # not a token: session authentication may still apply
        if len(parts) != 2 or len(parts[1]) > MAX_SECRET:
            raise AuthenticationFailed("Invalid token header.")
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token header.") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_secret(secret)).first()
        now = timezone.now()
        # One answer for unknown, revoked and expired, so nothing learns which it was.
        if token is None or not token.is_usable(now) or not token.user.is_active:
            raise AuthenticationFailed("Invalid, expired or revoked token.")
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes these tokens."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )
