"""Who may do what: tokens are required, viewers only read, reconcilers decide, admins
configure."""

import pytest
from django.contrib.auth.models import User

from inventory.models import AuditLog, OwnershipRule, Source, Team
from tests.api.conftest import PASSWORD, PAY_API
from tests.conftest import make_user

READ_URLS = [
    "/api/v1/assets/",
    "/api/v1/teams/",
    "/api/v1/rules/",
    "/api/v1/findings/",
    "/api/v1/sources/",
    "/api/v1/runs/",
    "/api/v1/events/",
    "/api/v1/audit/",
]


def write_requests(estate, source, payments):
    """Every write the API offers, each with a payload that an admin could send successfully."""
    pay_api = estate[PAY_API].pk
    rule = OwnershipRule.objects.get(team=payments)
    new_source = {"name": "lab", "provider": "demo", "config": {"seed": 2}, "schedule": "0 3 * * *"}
    return [
        ("post", f"/api/v1/assets/{pay_api}/decision/", {"action": "clear"}),
        ("post", "/api/v1/assets/decisions/", {"action": "clear", "assets": [pay_api]}),
        ("post", "/api/v1/teams/", {"name": "Data", "slug": "data"}),
        ("patch", "/api/v1/teams/payments/", {"contact": "#pay-oncall"}),
        ("delete", "/api/v1/teams/payments/", None),
        ("post", "/api/v1/rules/", {"name": "r", "team": "payments", "account": "1"}),
        ("patch", f"/api/v1/rules/{rule.pk}/", {"position": 5}),
        ("delete", f"/api/v1/rules/{rule.pk}/", None),
        ("post", "/api/v1/sources/", new_source),
        ("patch", f"/api/v1/sources/{source.pk}/", {"enabled": False}),
        ("delete", f"/api/v1/sources/{source.pk}/", None),
        ("post", f"/api/v1/sources/{source.pk}/run/", None),
    ]


@pytest.mark.parametrize("url", READ_URLS)
def test_every_endpoint_needs_authentication(api, estate, url):
    response = api().get(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_refused(api, estate):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert client.get("/api/v1/assets/").status_code == 401


def test_token_endpoint_refuses_a_wrong_password(api, viewer):
    response = api().post(
        "/api/v1/auth/token/", {"username": viewer.username, "password": "nope"}, format="json"
    )

    assert response.status_code == 400
    assert "token" not in response.json()


def test_token_endpoint_issues_a_new_read_only_token(api, viewer):
    response = api().post(
        "/api/v1/auth/token/", {"username": viewer.username, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    token = User.objects.get(pk=viewer.pk).api_tokens.get()
    assert body["id"] == token.pk and body["scope"] == "read" and body["expires_at"] is None
    assert body["token"].startswith(token.prefix) and token.key_hash != body["token"]


def test_a_user_without_a_role_cannot_read(api, estate):
    nobody = make_user("contractor", None)

    assert api(nobody).get("/api/v1/assets/").status_code == 403


@pytest.mark.parametrize("url", READ_URLS)
def test_viewer_reads_every_list(api, viewer, estate, url):
    assert api(viewer).get(url).status_code == 200


def test_viewer_gets_403_on_every_write_and_nothing_changes(api, viewer, estate, source, payments):
    client = api(viewer)
    before = (Team.objects.count(), OwnershipRule.objects.count(), Source.objects.count())

    for method, url, payload in write_requests(estate, source, payments):
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code == 403, (method, url, response.content)

    after = (Team.objects.count(), OwnershipRule.objects.count(), Source.objects.count())
    assert after == before
    assert not AuditLog.objects.exclude(object_type="apitoken").exists()


def test_reconciler_can_decide_but_not_configure(api, reconciler, estate, source, payments):
    client = api(reconciler)
    pay_api = estate[PAY_API].pk

    decided = client.post(
        f"/api/v1/assets/{pay_api}/decision/",
        {"action": "assign", "team": "payments"},
        format="json",
    )
    assert decided.status_code == 200

    for method, url, payload in write_requests(estate, source, payments)[2:]:
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code == 403, (method, url, response.content)
    assert not Source.objects.filter(name="lab").exists()


def test_admin_can_configure(api, admin_user, estate, source, payments):
    client = api(admin_user)
    rule = OwnershipRule.objects.get(team=payments)

    assert client.post("/api/v1/teams/", {"name": "Data", "slug": "data"}).status_code == 201
    created = client.post(
        "/api/v1/sources/",
        {"name": "lab", "provider": "demo", "config": {"seed": 2}, "schedule": "0 3 * * *"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert client.patch(f"/api/v1/rules/{rule.pk}/", {"position": 5}).status_code == 200
    assert Source.objects.filter(name="lab", provider="demo").exists()
