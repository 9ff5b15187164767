"""Single sign-on end to end: Django's test client against a real OpenID Connect provider on
loopback (tests/oidc_provider.py), through mozilla-django-oidc and Daylight's fittings."""

import html
import json
import logging
import re
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.contrib import auth
from django.contrib.auth.models import User
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from inventory.models import AuditLog, ExternalIdentity, Team
from inventory.roles import ADMIN, RECONCILER, VIEWER, role_of
from tests.oidc_provider import Provider, configure, new_key

CALLBACK = "http://testserver/accounts/oidc/callback/"
SIGNED_OUT = "http://testserver/accounts/login/"
ROLE_GROUPS = {
    "cn=daylight-admins,ou=groups": ADMIN,
    "secops": RECONCILER,
    "staff": VIEWER,
}
TEAM_GROUPS = {"payments-eng": "payments", "platform-eng": "platform"}


@pytest.fixture(scope="session")
def signing_key():
    return new_key()


@pytest.fixture
def provider(signing_key):
    idp = Provider(signing_key).start()
    idp.redirect_uris.add(CALLBACK)
    idp.post_logout_redirect_uris.add(SIGNED_OUT)
    yield idp
    idp.stop()
    cache.delete(f"oidc-discovery:{idp.issuer}")


@pytest.fixture
def sso(settings, provider, db):
    configure(settings, provider, role_groups=ROLE_GROUPS, team_groups=TEAM_GROUPS)
    return provider


@pytest.fixture
def teams(db):
    return {
        slug: Team.objects.create(name=slug.title(), slug=slug)
        for slug in ("payments", "platform", "data")
    }


def start(client, next_url="/"):
    """Click "Sign in with …": Daylight's redirect to the provider's authorize endpoint."""
    response = client.get(reverse("oidc_authentication_init"), {"next": next_url})
    assert response.status_code == 302
    return response["Location"]


def at_provider(authorize_url):
    """The browser at the provider: it answers with a redirect back to Daylight."""
    response = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def come_back(client, callback_url):
    parts = urlsplit(callback_url)
    return client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def sign_in(client, idp, sub="u-1", next_url="/", **claims):
    """The whole round trip; Daylight's last answer."""
    idp.sign_in(sub, **claims)
    return come_back(client, at_provider(start(client, next_url)))


def signed_in_user(client):
    """Whom the client's session signs in, as Django's middleware would tell."""
    request = HttpRequest()
    request.session = client.session
    user = auth.get_user(request)
    return User.objects.get(pk=user.pk) if user.is_authenticated else None


def login_page_messages(client):
    return client.get(reverse("login")).content.decode()


# --- configuration --------------------------------------------------------------------------


def test_without_configuration_there_is_no_sso_button_and_the_endpoints_are_404(client, db):
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in page
    assert 'name="password"' in page
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    assert client.get(reverse("oidc_authentication_callback")).status_code == 404


def test_configured_login_page_offers_the_provider_beside_the_local_form(client, sso):
    page = client.get(reverse("login"), {"next": "/assets/"}).content.decode()
    assert "Sign in with Example IdP" in page
    assert 'name="password"' in page  # local accounts stay, for break-glass
    assert f"{reverse('oidc_authentication_init')}?next=/assets/" in page


# --- the flow -------------------------------------------------------------------------------


def test_full_sign_in_creates_the_user_with_role_and_teams_and_goes_where_asked(client, sso, teams):
    authorize = start(client, "/assets/")
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{sso.issuer}/authorize?")
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge"][0]

    sso.sign_in(
        "00u-alice",
        preferred_username="alice",
        email="alice@example.com",
        given_name="Alice",
        family_name="Liddell",
        groups=["secops", "payments-eng", "unrelated"],
    )
    response = come_back(client, at_provider(authorize))

    assert response.status_code == 302 and response["Location"] == "/assets/"
    user = signed_in_user(client)
    assert user.username == "alice"
    assert (user.email, user.first_name, user.last_name) == (
        "alice@example.com",
        "Alice",
        "Liddell",
    )
    assert not user.has_usable_password()
    assert user.external_identity.issuer == sso.issuer
    assert user.external_identity.subject == "00u-alice"
    assert role_of(user) == RECONCILER
    assert list(user.teams.values_list("slug", flat=True)) == ["payments"]
    # The code went back with its PKCE verifier, the secret only to the token endpoint.
    token_request = next(p for m, path, p in sso.requests if path == "/token")
    assert token_request["code_verifier"]
    assert token_request["client_secret"] == sso.client_secret
    assert client.get("/reconcile/").status_code == 200
    entry = AuditLog.objects.get(action="user.sso_access")
    assert (entry.object_type, entry.object_repr) == ("user", "alice")
    assert entry.before == {"role": None, "teams": []}
    assert entry.after == {"role": RECONCILER, "teams": ["payments"]}
    assert "Example IdP" in entry.note
    assert AuditLog.objects.filter(action="user.create", object_id=str(user.pk)).exists()


def test_admins_see_who_signs_in_through_the_provider(client, sso, admin_user):
    sign_in(client, sso, "00u-gina", preferred_username="gina", groups=["staff"])
    client.force_login(admin_user)
    page = client.get(reverse("admin:inventory_externalidentity_changelist")).content.decode()
    assert "gina" in page and "00u-gina" in page


def test_discovery_can_be_replaced_by_endpoints_set_one_by_one(client, sso, settings):
    settings.OIDC_ISSUER = sso.issuer
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{sso.issuer}/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{sso.issuer}/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{sso.issuer}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{sso.issuer}/jwks"

    sign_in(client, sso, groups=["staff"])

    assert role_of(signed_in_user(client)) == VIEWER
    assert not [path for _, path, _ in sso.requests if path.startswith("/.well-known")]


def test_groups_only_in_the_id_token_count_when_the_provider_has_no_userinfo(client, sso):
    sso.serve_userinfo = False
    sign_in(client, sso, groups=["cn=daylight-admins,ou=groups"])
    user = signed_in_user(client)
    assert role_of(user) == ADMIN and user.is_staff and user.is_superuser
    assert not [path for _, path, _ in sso.requests if path == "/userinfo"]


# --- roles and teams follow the provider --------------------------------------------------------


def test_roles_follow_the_provider_at_every_sign_in(client, sso, teams):
    sign_in(client, sso, "u-bob", preferred_username="bob", groups=["cn=daylight-admins,ou=groups"])
    bob = signed_in_user(client)
    assert role_of(bob) == ADMIN and bob.is_superuser and bob.is_staff

    client.logout()
    sign_in(client, sso, "u-bob", preferred_username="bob", groups=["staff", "secops"])
    bob.refresh_from_db()
    assert signed_in_user(client) == bob  # the same person, not a second account
    assert role_of(bob) == RECONCILER and not bob.is_superuser and not bob.is_staff

    client.logout()
    sign_in(client, sso, "u-bob", preferred_username="bob", groups=["left-the-company"])
    bob.refresh_from_db()
    assert role_of(bob) is None
    page = client.get("/")
    assert page.status_code == 403
    assert 'data-testid="no-role"' in page.content.decode()
    assert client.get("/assets/").status_code == 403
    assert client.get("/api/v1/assets/").status_code == 403

    changes = [
        (e.before["role"], e.after["role"])
        for e in AuditLog.objects.filter(action="user.sso_access").order_by("id")
    ]
    assert changes == [(None, ADMIN), (ADMIN, RECONCILER), (RECONCILER, None)]
    assert User.objects.filter(external_identity__subject="u-bob").count() == 1


def test_an_unchanged_sign_in_writes_no_audit_row(client, sso, teams):
    sign_in(client, sso, groups=["staff", "platform-eng"])
    client.logout()
    sign_in(client, sso, groups=["staff", "platform-eng"])
    assert AuditLog.objects.filter(action="user.sso_access").count() == 1


def test_someone_in_no_mapped_group_gets_the_default_role_when_one_is_set(client, sso, settings):
    settings.OIDC_DEFAULT_ROLE = VIEWER
    sign_in(client, sso, groups=["everyone"])
    assert role_of(signed_in_user(client)) == VIEWER
    assert client.get("/").status_code == 200


def test_team_memberships_follow_the_provider_and_leave_other_teams_alone(client, sso, teams):
    sign_in(client, sso, "u-carol", groups=["secops", "payments-eng", "platform-eng"])
    carol = signed_in_user(client)
    assert set(carol.teams.values_list("slug", flat=True)) == {"payments", "platform"}
    teams["data"].members.add(carol)  # an admin's own choice: no IdP group manages "data"

    client.logout()
    sign_in(client, sso, "u-carol", groups=["secops", "platform-eng"])
    assert set(carol.teams.values_list("slug", flat=True)) == {"platform", "data"}
    last = AuditLog.objects.filter(action="user.sso_access").latest("id")
    assert last.before["teams"] == ["data", "payments", "platform"]
    assert last.after["teams"] == ["data", "platform"]


def test_deactivating_someone_in_daylight_ends_their_session_at_once(client, sso):
    sign_in(client, sso, groups=["staff"])
    assert client.get("/").status_code == 200
    User.objects.filter(external_identity__subject="u-1").update(is_active=False)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_teams_from_the_provider_scope_a_reconciler(client, sso, scoped_estate):
    sign_in(client, sso, "u-frank", groups=["secops", "platform-eng"])
    names = sorted(row["name"] for row in client.get("/api/v1/assets/").json()["results"])
    assert names == ["plat", "shadow"]


def test_a_provider_account_never_takes_over_a_local_one(client, sso, admin_user):
    admin_user.email = "ops@example.com"
    admin_user.save()
    sign_in(client, sso, "u-evil", preferred_username="ops", email="ops@example.com", groups=[])
    newcomer = signed_in_user(client)
    assert newcomer != admin_user and newcomer.username == "ops-2"
    admin_user.refresh_from_db()
    assert role_of(admin_user) == ADMIN and admin_user.check_password("correct-horse-battery")
    assert not ExternalIdentity.objects.filter(user=admin_user).exists()


def test_break_glass_password_sign_in_works_while_the_provider_is_down(client, sso, admin_user):
    sso.stop()
    response = client.post(
        reverse("login"), {"username": "ops", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert signed_in_user(client) == admin_user
    assert client.get("/").status_code == 200


def test_a_provider_that_cannot_be_reached_is_said_so_on_the_login_page(client, sso):
    sso.stop()
    response = client.get(reverse("oidc_authentication_init"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert "Sign-in with Example IdP is unavailable" in login_page_messages(client)


# --- refusals ---------------------------------------------------------------------------------


def refused(client, response):
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert "did not complete" in login_page_messages(client)
    return True


def test_a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(client, sso):
    sso.signing_key = new_key()
    assert refused(client, sign_in(client, sso, groups=["staff"]))
    assert not User.objects.exists()


def test_a_token_for_another_client_is_refused(client, sso):
    sso.id_token_overrides = {"aud": "some-other-app"}
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_a_token_for_several_clients_needs_this_one_as_authorized_party(client, sso):
    sso.id_token_overrides = {"aud": ["daylight", "other"], "azp": "other"}
    assert refused(client, sign_in(client, sso, groups=["staff"]))
    sso.id_token_overrides = {"aud": ["daylight", "other"], "azp": "daylight"}
    sign_in(client, sso, groups=["staff"])
    assert role_of(signed_in_user(client)) == VIEWER


def test_a_token_with_another_nonce_is_refused(client, sso):
    sso.id_token_overrides = {"nonce": "replayed-from-elsewhere"}
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_a_token_from_another_issuer_is_refused(client, sso):
    sso.id_token_overrides = {"iss": "https://idp.attacker.example"}
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_an_expired_token_is_refused(client, sso):
    sso.id_token_overrides = {"iat": 1_600_000_000, "exp": 1_600_000_300}
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_a_provider_whose_clock_runs_a_little_ahead_is_accepted(client, sso):
    now = int(time.time())
    sso.id_token_overrides = {"iat": now + 20, "nbf": now + 20}
    sign_in(client, sso, groups=["staff"])
    assert role_of(signed_in_user(client)) == VIEWER


def test_a_token_issued_well_in_the_future_is_refused(client, sso):
    now = int(time.time())
    sso.id_token_overrides = {"iat": now + 600, "nbf": now + 600, "exp": now + 900}
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_an_unsigned_token_is_refused(client, sso):
    sso.id_token_overrides = {}
    sso.unsigned = True
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_userinfo_about_someone_else_is_refused(client, sso):
    sso.userinfo_overrides = {"sub": "someone-else", "groups": ["cn=daylight-admins,ou=groups"]}
    assert refused(client, sign_in(client, sso, groups=["staff"]))


def test_a_state_this_browser_never_started_is_refused(client, sso):
    sso.sign_in("u-1", groups=["staff"])
    callback = at_provider(start(client))
    other_browser = client.__class__()
    other_browser.get(reverse("login"))
    response = come_back(other_browser, callback)
    assert response.status_code == 302 and signed_in_user(other_browser) is None


def test_a_code_and_state_work_only_once(client, sso):
    sso.sign_in("u-1", groups=["staff"])
    callback = at_provider(start(client))
    come_back(client, callback)
    assert signed_in_user(client) is not None
    client.logout()
    assert refused(client, come_back(client, callback))


def test_the_client_secret_is_never_logged(client, sso, caplog):
    caplog.set_level(logging.DEBUG)
    sso.id_token_overrides = {"aud": "some-other-app"}
    sign_in(client, sso, groups=["staff"])
    sso.id_token_overrides = {}
    sign_in(client, sso, groups=["staff"])
    assert caplog.records
    assert sso.client_secret not in caplog.text
    rows = AuditLog.objects.values_list("before", "after", "note")
    assert not [row for row in rows if sso.client_secret in json.dumps(row)]


# --- signing out ------------------------------------------------------------------------------


def test_signing_out_ends_the_providers_session_too(client, sso, signing_key):
    authorize = start(client)
    nonce = parse_qs(urlsplit(authorize).query)["nonce"][0]
    sso.sign_in("u-out", preferred_username="carol", groups=["staff"])
    come_back(client, at_provider(authorize))
    assert signed_in_user(client).username == "carol"
    assert client.get(reverse("logout")).status_code == 405  # POST only, with its CSRF token
    assert signed_in_user(client) is not None

    response = client.post(reverse("logout"))

    # A page that moves on to the provider by itself (and offers a link), not a redirect.
    assert response.status_code == 200 and "Cache-Control" in response
    page = response.content.decode()
    link = re.search(r'<a [^>]*href="([^"]+)" data-testid="provider-logout"', page)
    location = html.unescape(link.group(1))
    assert f'<meta http-equiv="refresh" content="0; url={html.escape(location)}">' in page
    assert location.startswith(f"{sso.issuer}/logout?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["post_logout_redirect_uri"] == SIGNED_OUT
    assert query["client_id"] == sso.client_id
    hint = jwt.decode(
        query["id_token_hint"],
        signing_key.public_key(),
        algorithms=["RS256"],
        audience=sso.client_id,
        issuer=sso.issuer,
    )
    assert (hint["sub"], hint["nonce"]) == ("u-out", nonce)  # this session's own ID token
    assert signed_in_user(client) is None  # Daylight's session ended first
    assert client.get("/").status_code == 302

    at_idp = requests.get(location, allow_redirects=False, timeout=5)
    assert at_idp.status_code == 302 and at_idp.headers["Location"] == SIGNED_OUT
    assert [claims["sub"] for claims in sso.ended_sessions] == ["u-out"]
    # The provider asks who it is again: signing in does not silently come back.
    again = requests.get(start(client), allow_redirects=False, timeout=5)
    assert again.status_code == 400 and again.json() == {"error": "login_required"}


def test_a_local_account_signs_out_of_daylight_only(client, sso, admin_user):
    client.post(reverse("login"), {"username": "ops", "password": "correct-horse-battery"})
    assert signed_in_user(client) == admin_user

    response = client.post(reverse("logout"))

    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert not [path for _, path, _ in sso.requests if path == "/logout"]


@pytest.mark.parametrize("why", ["the provider names no end_session_endpoint", "turned off"])
def test_without_provider_logout_signing_out_ends_daylights_session_only(
    client, sso, settings, why
):
    if why == "turned off":
        settings.OIDC_PROVIDER_LOGOUT = False
    else:
        sso.serve_end_session = False
    sign_in(client, sso, "u-2", groups=["staff"])
    assert signed_in_user(client) is not None

    response = client.post(reverse("logout"))

    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert not sso.ended_sessions


def test_a_hint_the_provider_did_not_issue_ends_no_session(sso, signing_key):
    forged = jwt.encode(
        {"iss": sso.issuer, "aud": sso.client_id, "sub": "u-1", "exp": int(time.time()) + 60},
        new_key(),
        algorithm="RS256",
    )
    query = {"id_token_hint": forged, "post_logout_redirect_uri": SIGNED_OUT}
    response = requests.get(f"{sso.issuer}/logout", params=query, timeout=5)
    assert response.status_code == 400 and not sso.ended_sessions
