"""Reconcilers' decisions through the API: they change owner and tracking, leave history and an
audit row, and are refused with a clear message when incomplete."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Asset, AssetChange, AuditLog, TrackingDecision
from tests.api.conftest import BATCH, OLD_REPORT, PAY_API, WEB


@pytest.fixture
def client(api, reconciler):
    return api(reconciler)


def decide(client, asset, **body):
    return client.post(f"/api/v1/assets/{asset.pk}/decision/", body, format="json")


def test_assign_makes_an_untracked_asset_tracked_and_audits_it(
    client, reconciler, estate, platform
):
    old_report = estate[OLD_REPORT]

    response = decide(client, old_report, action="assign", team="platform", reason="their cron")

    assert response.status_code == 200, response.content
    assert response.json()["owner"] == {"slug": "platform", "name": "Platform"}
    assert response.json()["tracking"] == "tracked"
    old_report.refresh_from_db()
    assert (old_report.owner, old_report.owner_basis, old_report.tracking) == (
        platform,
        "decision",
        "tracked",
    )
    entry = AuditLog.objects.get(action="asset.assign")
    assert (entry.actor, entry.object_id) == (reconciler, str(old_report.pk))
    assert entry.after["team"] == "Platform"
    assert entry.after["reason"] == "their cron"
    history = AssetChange.objects.filter(asset=old_report, actor=reconciler)
    assert {(c.field, c.new) for c in history} == {("owner", "Platform"), ("tracking", "tracked")}


def test_accept_records_reason_and_expiry(client, estate):
    web = estate[WEB]
    expires = timezone.now() + timedelta(days=30)

    response = decide(
        client, web, action="accept", reason="vendor demo", expires_at=expires.isoformat()
    )

    assert response.status_code == 200, response.content
    web.refresh_from_db()
    assert web.tracking == "accepted"
    decision = TrackingDecision.objects.get(asset=web, active=True)
    assert (decision.kind, decision.reason, decision.expires_at) == (
        "accept",
        "vendor demo",
        expires,
    )
    assert AuditLog.objects.filter(action="asset.accept_risk", object_id=str(web.pk)).exists()


def test_clear_hands_the_asset_back_to_the_rules(client, estate, platform, payments):
    pay_api = estate[PAY_API]
    decide(client, pay_api, action="assign", team="platform")

    response = decide(client, pay_api, action="clear", reason="rule is right")

    assert response.status_code == 200
    pay_api.refresh_from_db()
    assert (pay_api.owner, pay_api.owner_basis) == (payments, "rule")
    assert not TrackingDecision.objects.filter(asset=pay_api, active=True).exists()
    assert AuditLog.objects.filter(action="asset.clear_decision").count() == 1


def test_the_detail_shows_the_decision_in_force(client, reconciler, estate):
    decide(client, estate[WEB], action="accept", reason="lab")

    body = client.get(f"/api/v1/assets/{estate[WEB].pk}/").json()

    assert body["decision"]["kind"] == "accept"
    assert body["decision"]["reason"] == "lab"
    assert body["decision"]["decided_by"] == reconciler.username
    assert body["changes"][0]["actor"] == reconciler.username


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"action": "accept"}, "reason", "needs a reason"),
        ({"action": "accept", "reason": "   "}, "reason", "needs a reason"),
        ({"action": "assign"}, "team", "needs the slug"),
        ({"action": "assign", "team": "nobody"}, "team", "no team with slug 'nobody'"),
        ({"action": "clear", "team": "platform"}, "team", "takes no team"),
        ({"action": "approve"}, "action", "not a valid choice"),
        (
            {"action": "accept", "reason": "x", "expires_at": "2020-01-01T00:00:00Z"},
            "expires_at",
            "in the future",
        ),
        (
            {"action": "assign", "team": "platform", "expires_at": "2099-01-01T00:00:00Z"},
            "expires_at",
            "Only an accepted risk expires",
        ),
    ],
)
def test_incomplete_decisions_are_refused_and_change_nothing(
    client, estate, platform, body, field, message
):
    old_report = estate[OLD_REPORT]

    response = decide(client, old_report, **body)

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    old_report.refresh_from_db()
    assert (old_report.owner, old_report.tracking) == (None, "untracked")
    assert not AuditLog.objects.exclude(object_type="apitoken").exists()
    assert not TrackingDecision.objects.exists()


def test_deciding_an_unknown_asset_is_a_404(client, estate):
    response = client.post("/api/v1/assets/999999/decision/", {"action": "clear"}, format="json")

    assert response.status_code == 404


def test_bulk_assign(client, estate, platform):
    ids = [estate[OLD_REPORT].pk, estate[WEB].pk, estate[BATCH].pk]

    response = client.post(
        "/api/v1/assets/decisions/",
        {"action": "assign", "team": "platform", "assets": [*ids, ids[0]]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"action": "assign", "decided": 3}
    assert set(Asset.objects.filter(owner=platform).values_list("pk", flat=True)) == set(ids)
    assert AuditLog.objects.filter(action="asset.assign").count() == 3


def test_bulk_accept_then_list_filter_sees_it(client, estate):
    ids = [estate[OLD_REPORT].pk, estate[BATCH].pk]

    client.post(
        "/api/v1/assets/decisions/",
        {"action": "accept", "reason": "batch jobs, decommission Q1", "assets": ids},
        format="json",
    )
    rows = client.get("/api/v1/assets/?tracking=accepted").json()["results"]

    assert sorted(row["id"] for row in rows) == sorted(ids)


@pytest.mark.parametrize(
    ("assets", "message"),
    [([], "may not be empty"), ([999999], "No asset with id 999999"), (["x"], "valid integer")],
)
def test_bulk_with_bad_asset_ids_changes_nothing(client, estate, platform, assets, message):
    response = client.post(
        "/api/v1/assets/decisions/",
        {"action": "assign", "team": "platform", "assets": assets},
        format="json",
    )

    assert response.status_code == 400
    assert message in str(response.json()["assets"])
    assert not Asset.objects.filter(owner=platform).exists()
    assert not AuditLog.objects.exclude(object_type="apitoken").exists()


def test_bulk_validation_applies_the_same_rules(client, estate):
    response = client.post(
        "/api/v1/assets/decisions/",
        {"action": "accept", "assets": [estate[WEB].pk]},
        format="json",
    )

    assert response.status_code == 400
    assert "needs a reason" in response.json()["reason"][0]
