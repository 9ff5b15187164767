"""API tokens: hashed at rest, scoped, expiring, revocable — issued by the token endpoint, the
management command and the admin site, every change audited."""

import importlib
import io
from datetime import timedelta
from types import SimpleNamespace

from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import services
from inventory.api.authentication import TOUCH_EVERY
from inventory.models import ApiToken, AuditLog, TokenScope
from inventory.models.tokens import hash_secret

DECIDE = "/api/v1/assets/decisions/"


def client_with(secret, keyword="Token"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {secret}")
    return client


def issue(user, scope=TokenScope.READ, **fields):
    token = ApiToken(user=user, name="test script", scope=scope, **fields)
    return token, services.issue_api_token(token, user)


def decide(client, asset_id):
    return client.post(
        DECIDE, {"assets": [asset_id], "action": "clear", "reason": "test"}, format="json"
    )


def test_a_read_only_token_reads_but_cannot_write(estate, reconciler):
    _, secret = issue(reconciler, TokenScope.READ)
    client = client_with(secret)
    assert client.get("/api/v1/assets/").status_code == 200
    asset_id = client.get("/api/v1/assets/").json()["results"][0]["id"]
    refused = decide(client, asset_id)
    assert refused.status_code == 403
    assert "scope" in refused.json()["detail"]
    assert not AuditLog.objects.filter(action__startswith="decision").exists()

    _, write = issue(reconciler, TokenScope.WRITE)
    assert decide(client_with(write, "Bearer"), asset_id).status_code == 200


def test_a_write_token_never_exceeds_its_users_role(estate, viewer):
    _, secret = issue(viewer, TokenScope.WRITE)
    client = client_with(secret)
    asset_id = client.get("/api/v1/assets/").json()["results"][0]["id"]
    assert decide(client, asset_id).status_code == 403


def test_revoked_and_expired_tokens_are_refused_alike(estate, viewer, admin_user):
    token, secret = issue(viewer)
    client = client_with(secret)
    assert client.get("/api/v1/assets/").status_code == 200

    assert services.revoke_api_token(token, admin_user) is True
    refused = client.get("/api/v1/assets/")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid, expired or revoked token."
    assert services.revoke_api_token(token, admin_user) is False  # once is enough

    _, expired = issue(viewer, expires_at=timezone.now() - timedelta(seconds=1))
    assert client_with(expired).get("/api/v1/assets/").json() == refused.json()

    viewer.is_active = False
    viewer.save()
    _, inactive = issue(viewer)
    assert client_with(inactive).get("/api/v1/assets/").status_code == 401


def test_the_database_holds_only_a_hash(estate, viewer, admin_user):
    token, secret = issue(viewer, TokenScope.WRITE)
    client_with(secret).get("/api/v1/assets/")  # used, so last_used_at is written too
    services.revoke_api_token(token, admin_user)

    token.refresh_from_db()
    assert token.key_hash == hash_secret(secret) and secret not in token.key_hash
    assert secret.startswith(token.prefix) and len(token.prefix) < len(secret) // 4
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)  # every table Daylight keeps
    assert secret not in dump.getvalue()
    assert secret[len(token.prefix) :] not in dump.getvalue()


def test_last_used_is_recorded_at_most_once_a_minute(estate, viewer):
    token, secret = issue(viewer)
    client = client_with(secret)
    client.get("/api/v1/assets/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get("/api/v1/assets/")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - TOUCH_EVERY * 2)
    client.get("/api/v1/assets/")
    token.refresh_from_db()
    assert token.last_used_at > first - TOUCH_EVERY


def test_issuing_and_revoking_are_audited_without_the_secret(viewer, admin_user):
    token, secret = issue(viewer, TokenScope.WRITE)
    services.revoke_api_token(token, admin_user)
    created, revoked = AuditLog.objects.filter(object_type="apitoken").order_by("at", "id")
    assert (created.action, created.actor_name) == ("api_token.create", "ciso")
    assert created.after["scope"] == "write" and created.after["prefix"] == token.prefix
    assert (revoked.action, revoked.actor_name) == ("api_token.revoke", "ops")
    assert revoked.before["revoked_at"] is None and revoked.after["revoked_at"]
    for entry in (created, revoked):
        assert secret not in f"{entry.before} {entry.after} {entry.object_repr} {entry.note}"


def test_the_token_endpoint_asks_for_scope_and_expiry(api, viewer):
    response = api().post(
        "/api/v1/auth/token/",
        {
            "username": "ciso",
            "password": "correct-horse-battery",
            "name": "CMDB sync",
            "scope": "write",
            "expires_days": 30,
        },
        format="json",
    )
    assert response.status_code == 201
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert (token.name, token.scope) == ("CMDB sync", "write")
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    bad = api().post(
        "/api/v1/auth/token/",
        {"username": "ciso", "password": "correct-horse-battery", "scope": "admin"},
        format="json",
    )
    assert bad.status_code == 400 and "scope" in bad.json()


def test_the_command_issues_once_lists_and_revokes(estate, viewer):
    out = io.StringIO()
    call_command("tokens", "create", "ciso", "--name", "nightly export", stdout=out)
    secret = out.getvalue().splitlines()[1]
    token = ApiToken.objects.get(key_hash=hash_secret(secret))
    assert token.scope == TokenScope.READ and token.user == viewer
    assert client_with(secret).get("/api/v1/assets/").status_code == 200

    listing = io.StringIO()
    call_command("tokens", "list", stdout=listing)
    assert token.prefix in listing.getvalue() and "nightly export" in listing.getvalue()
    assert secret not in listing.getvalue()

    call_command("tokens", "revoke", str(token.pk), stdout=io.StringIO())
    assert client_with(secret).get("/api/v1/assets/").status_code == 401
    assert AuditLog.objects.filter(action="api_token.revoke", actor_name="daylight").exists()


def test_the_admin_shows_the_secret_once_and_revokes(client, estate, viewer, admin_user):
    client.force_login(admin_user)
    page = client.post(
        "/admin/inventory/apitoken/add/",
        {
            "user": viewer.pk,
            "name": "from the admin",
            "scope": "read",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert page.status_code == 200, page.content
    token = ApiToken.objects.get(name="from the admin")
    secret = page.context["secret"]
    assert f'data-testid="issued-secret">{secret}<' in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert client_with(secret).get("/api/v1/assets/").status_code == 200
    # Never shown again: not on the list, not on the token's own page.
    for url in ("/admin/inventory/apitoken/", f"/admin/inventory/apitoken/{token.pk}/change/"):
        shown = client.get(url)
        assert shown.status_code == 200 and secret not in shown.content.decode()

    client.post(
        "/admin/inventory/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client_with(secret).get("/api/v1/assets/").status_code == 401


def test_plain_text_tokens_from_before_are_hashed_and_keep_working(estate, viewer):
    """DRF's authtoken table, as an older Daylight left it: the migration hashes each key into
    a read-write token and empties the table."""
    legacy_key = "a1" * 20
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp "
            "with time zone NOT NULL, user_id integer NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created datetime NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [legacy_key, timezone.now() - timedelta(days=400), viewer.pk],
        )
    migration = importlib.import_module("inventory.migrations.0013_api_tokens")
    migration.hash_legacy_tokens(apps, SimpleNamespace(connection=connection))

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
        cursor.execute("DROP TABLE authtoken_token")
    token = ApiToken.objects.get(user=viewer)
    assert token.scope == TokenScope.WRITE and token.key_hash == hash_secret(legacy_key)
    assert token.created_at < timezone.now() - timedelta(days=399)
    assert client_with(legacy_key).get("/api/v1/assets/").status_code == 200
