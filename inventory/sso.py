"""Single sign-on with OpenID Connect, on mozilla-django-oidc.

The library runs the authorization code flow with state, nonce and PKCE, and checks the ID
token's signature against the provider's published keys (JWKS). Daylight adds what it leaves
out — the token's issuer, audience and expiry must be right — finds the provider's endpoints
from its discovery document, links people by issuer and subject (never by e-mail, so no account
at the provider can take over a local one), and applies the provider's groups as the person's
role and team memberships at every sign-in. Signing out of Daylight after signing in through
the provider ends the provider's session too (OpenID Connect RP-Initiated Logout 1.0).
"""

import logging
import re
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from . import services
from .models import ExternalIdentity, Team
from .roles import highest

logger = logging.getLogger(__name__)

DISCOVERY_TTL = 3600
# The library's endpoint settings and the discovery document's fields that fill them.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
}
# Claims are the provider's to fill; keep what Daylight stores of them bounded.
MAX_GROUPS = 1000
MAX_GROUP_NAME = 255
USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


class DiscoveryError(Exception):
    """The provider's discovery document could not be read or does not fit the issuer."""


def discovery() -> dict:
    """The issuer's OpenID Connect discovery document, cached for an hour."""
    issuer = settings.OIDC_ISSUER
    key = f"oidc-discovery:{issuer}"
    if (document := cache.get(key)) is not None:
        return document
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DiscoveryError(f"Cannot read {url}: {exc}") from exc
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
        raise DiscoveryError(f"{url} names another issuer than {issuer}.")
    cache.set(key, document, DISCOVERY_TTL)
    return document


def oidc_setting(name, *default):
    """A setting for the library: an endpoint left unset comes from discovery."""
    if name in DISCOVERED and not getattr(settings, name, ""):
        return discovery().get(DISCOVERED[name]) or (default[0] if default else None)
    return import_from_settings(name, *default)


def _looked_up(name):
    return property(lambda self: self.get_settings(name, None))


# --- what the provider says about a person ------------------------------------------------------


def check_id_token(claims: dict) -> None:
    """Refuse an ID token issued by someone else, for another client, or without expiry (its
    signature, nonce and, when present, expiry were checked by the library already)."""
    if claims.get("iss", "").rstrip("/") != settings.OIDC_ISSUER:
        raise SuspiciousOperation("ID token from an unexpected issuer.")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    client_id = settings.OIDC_RP_CLIENT_ID
    if not isinstance(audiences, list) or client_id not in audiences:
        raise SuspiciousOperation("ID token meant for another client.")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SuspiciousOperation("ID token for several clients without this one as its party.")
    if not isinstance(claims.get("exp"), int | float):
        raise SuspiciousOperation("ID token without an expiry.")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SuspiciousOperation("ID token without a subject.")


def groups_of(claims: dict) -> set[str]:
    """The person's groups at the provider, from the configured claim (a list or one name)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return set()
    return {g for g in value[:MAX_GROUPS] if isinstance(g, str) and len(g) <= MAX_GROUP_NAME}


def role_for(groups: set[str]) -> str | None:
    """The highest role any of the groups maps to; the default role when none is mapped."""
    mapped = highest(settings.OIDC_ROLE_GROUPS[g] for g in groups if g in settings.OIDC_ROLE_GROUPS)
    return mapped or settings.OIDC_DEFAULT_ROLE or None


def teams_for(groups: set[str]) -> tuple[list[Team], list[Team]]:
    """(the teams these groups make the person a member of, every team the provider manages)."""
    mapping = settings.OIDC_TEAM_GROUPS
    managed = list(Team.objects.filter(slug__in=set(mapping.values())))
    missing = set(mapping.values()) - {team.slug for team in managed}
    if missing:
        logger.warning("OIDC_TEAM_GROUPS names teams Daylight lacks: %s", sorted(missing))
    wanted = {mapping[g] for g in groups if g in mapping}
    return [team for team in managed if team.slug in wanted], managed


def username_for(claims: dict) -> str:
    """A free user name from the configured claim (or e-mail, or subject), made safe."""
    User = get_user_model()
    raw = claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("email") or claims["sub"]
    base = USERNAME_UNSAFE.sub("-", str(raw))[:140].strip("-") or "sso-user"
    name, n = base, 1
    while User.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _profile(claims: dict) -> dict:
    text = {"email": 254, "given_name": 150, "family_name": 150}
    values = {k: claims[k][:n] if isinstance(claims.get(k), str) else "" for k, n in text.items()}
    return {
        "email": values["email"],
        "first_name": values["given_name"],
        "last_name": values["family_name"],
    }


# --- the library's pieces, fitted -----------------------------------------------------------


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs people in with the provider's code, and keeps their role and teams in step."""

    get_settings = staticmethod(oidc_setting)
    OIDC_OP_TOKEN_ENDPOINT = _looked_up("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = _looked_up("OIDC_OP_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = _looked_up("OIDC_OP_JWKS_ENDPOINT")
    OIDC_RP_CLIENT_ID = _looked_up("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = _looked_up("OIDC_RP_CLIENT_SECRET")
    OIDC_RP_SIGN_ALGO = _looked_up("OIDC_RP_SIGN_ALGO")
    OIDC_RP_IDP_SIGN_KEY = None  # always the provider's published keys

    def __init__(self, *args, **kwargs):
        # The library reads every endpoint here. Django builds each backend for every password
        # sign-in and every request of a signed-in person, which must not wait for the provider
        # (a local break-glass sign-in must work while it is down): read them when used.
        self.UserModel = get_user_model()

    def authenticate(self, request, nonce=None, code_verifier=None):
        """Only the callback's call (with the nonce it stored) reaches the provider; a password
        sign-in never does."""
        if not settings.OIDC_ENABLED or request is None or nonce is None:
            return None
        return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)

    def get_user(self, user_id):
        """Like Django's own backend: a deactivated person's sessions end at once."""
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def get_payload_data(self, token, key):
        """The library's signature check, with leeway for clocks: a provider a second ahead
        of Daylight issues tokens that would otherwise be "not yet valid"."""
        algorithm = jwt.get_unverified_header(token).get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {algorithm!r}, not the expected one.")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                options={"verify_aud": False},  # checked with azp in check_id_token
                leeway=settings.OIDC_CLOCK_SKEW,
            )
        except jwt.DecodeError as exc:
            raise SuspiciousOperation("ID token signature verification failed.") from exc

    def verify_token(self, token, **kwargs):
        try:
            claims = super().verify_token(token, **kwargs)
        except jwt.InvalidTokenError as exc:  # expired, not yet valid, malformed
            raise SuspiciousOperation(f"ID token refused: {exc}") from exc
        if kwargs.get("nonce") is not None:  # the ID token (userinfo may come signed too)
            check_id_token(claims)
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, and the userinfo endpoint's when the provider has one (for
        the same subject: anything else is refused)."""
        if not self.OIDC_OP_USER_ENDPOINT:
            return payload
        info = super().get_userinfo(access_token, id_token, payload)
        if not isinstance(info, dict) or info.get("sub") != payload["sub"]:
            raise SuspiciousOperation("Userinfo is about another subject than the ID token.")
        return {**payload, **info}

    def verify_claims(self, claims):
        return isinstance(claims.get("sub"), str) and bool(claims["sub"])

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            external_identity__issuer=settings.OIDC_ISSUER,
            external_identity__subject=claims["sub"],
        )

    def create_user(self, claims):
        with transaction.atomic():
            user = self.UserModel.objects.create_user(username_for(claims), **_profile(claims))
            ExternalIdentity.objects.create(
                user=user, issuer=settings.OIDC_ISSUER, subject=claims["sub"]
            )
            services.audit(None, "user.create", user, after={"sso": settings.OIDC_PROVIDER_NAME})
            return self.update_user(user, claims)

    def update_user(self, user, claims):
        """At every sign-in: the profile, the role and the teams follow the provider."""
        for field, value in _profile(claims).items():
            setattr(user, field, value)
        user.save(update_fields=list(_profile(claims)))
        ExternalIdentity.objects.filter(user=user).update(last_login_at=timezone.now())
        groups = groups_of(claims)
        teams, managed = teams_for(groups)
        services.apply_idp_access(
            user,
            role_for(groups),
            teams,
            managed,
            note=f"At sign-in with {settings.OIDC_PROVIDER_NAME} ({settings.OIDC_ISSUER}).",
        )
        return user


def _unavailable(request, exc):
    logger.warning("Single sign-on unavailable: %s", exc)
    messages.error(
        request,
        f"Sign-in with {settings.OIDC_PROVIDER_NAME} is unavailable right now. "
        "Try again later, or ask an administrator.",
    )
    return HttpResponseRedirect(resolve_url("login"))


class SignInView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, with state, nonce and a PKCE challenge."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        View.__init__(self, *args, **kwargs)  # the endpoint is looked up per sign-in, below

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except DiscoveryError as exc:
            return _unavailable(request, exc)
        if not self.OIDC_OP_AUTH_ENDPOINT:
            raise ImproperlyConfigured("The provider names no authorization endpoint.")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back. Anything wrong — a state this browser did not
    start, a token that fails a check, a provider that cannot be reached — ends on the sign-in
    page with a message, and nobody signed in."""

    get_settings = staticmethod(oidc_setting)

    @property
    def failure_url(self):
        return resolve_url(settings.LOGIN_REDIRECT_URL_FAILURE)

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            logger.warning("Single sign-on refused: %s", exc)
            return self.login_failure()
        except (requests.RequestException, DiscoveryError) as exc:
            return _unavailable(request, exc)

    def login_failure(self):
        messages.error(
            self.request,
            f"Sign-in with {settings.OIDC_PROVIDER_NAME} did not complete. Try again, "
            "or ask an administrator.",
        )
        return super().login_failure()


# --- signing out ------------------------------------------------------------------------------


def provider_logout_url(request) -> str:
    """Where signing out sends the browser (the library asks before it ends the session).
    Someone who signed in through the provider goes to its end_session_endpoint with their ID
    token as ``id_token_hint`` and Daylight's sign-in page as ``post_logout_redirect_uri``, so
    the provider's session ends too and the next sign-in asks again. A local account, or a
    provider that names no such endpoint or cannot be reached, signs out of Daylight only."""
    local = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token")
    if not (settings.OIDC_ENABLED and settings.OIDC_PROVIDER_LOGOUT and id_token):
        return local
    try:
        endpoint = oidc_setting("OIDC_OP_LOGOUT_ENDPOINT")
    except DiscoveryError as exc:
        logger.warning("Signing out at the provider is unavailable: %s", exc)
        return local
    if not endpoint:
        return local
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": request.build_absolute_uri(local),
            "client_id": settings.OIDC_RP_CLIENT_ID,
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


@method_decorator(never_cache, name="dispatch")
class SignOutView(OIDCLogoutView):
    """Ends the Daylight session (POST only, with its CSRF token), then sends the browser to
    ``provider_logout_url``: to the sign-in page with a redirect, to the provider from a page
    that moves on by itself. A redirect there would be refused by the browser: it would still
    be the sign-out form's navigation, and the pages' policy (form-action 'self') keeps forms
    on Daylight."""

    def post(self, request):
        response = super().post(request)
        target = response["Location"]
        if target == resolve_url(settings.LOGOUT_REDIRECT_URL):
            return response
        return render(request, "registration/signing_out.html", {"provider_url": target})
