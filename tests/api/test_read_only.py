"""The read-only resources: findings, collection runs, access events and the audit log."""

from datetime import timedelta

import pytest

from collectors.runner import run_source
from inventory import services
from inventory.models import Asset, RunTrigger, Source
from tests.api.conftest import BATCH, OLD_REPORT, PAY_API
from tests.conftest import NOW


@pytest.fixture
def client(api, viewer):
    return api(viewer)


def rows(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"unauthenticated-endpoint", "runtime-eol", "unpinned-image", "untrusted-registry"}),
        ("severity=4", {"unauthenticated-endpoint"}),
        ("min_severity=3", {"unauthenticated-endpoint", "runtime-eol"}),
        ("rule=runtime-eol", {"runtime-eol"}),
        ("category=exposure", {"unauthenticated-endpoint"}),
        ("category=lifecycle", {"runtime-eol"}),
        ("provider=kubernetes", {"unpinned-image", "untrusted-registry"}),
        ("provider=gcp", set()),
        ("status=resolved", set()),
    ],
)
def test_finding_filters(client, estate, query, expected):
    assert {f["rule"] for f in rows(client.get(f"/api/v1/findings/?{query}"))} == expected


def test_findings_of_one_asset_name_it(client, estate):
    found = rows(client.get(f"/api/v1/findings/?asset={estate[BATCH].pk}&ordering=opened_at"))

    assert {f["asset"]["name"] for f in found} == {"nightly"}
    assert all(f["status"] == "open" for f in found)
    assert {f["rule"] for f in found} == {"unpinned-image", "untrusted-registry"}


def test_findings_are_read_only(api, admin_user, estate):
    response = api(admin_user).post("/api/v1/findings/", {"rule": "x"}, format="json")

    assert response.status_code == 405


def test_runs_nest_their_scope_runs(client, db):
    lab = Source.objects.create(
        name="lab", provider="demo", config={"seed": 5, "fail_scopes": ["gcp/acme-prod"]}
    )
    run = run_source(lab, RunTrigger.COMMAND, at=NOW)

    listed = rows(client.get(f"/api/v1/runs/?source={lab.pk}"))
    detail = client.get(f"/api/v1/runs/{run.pk}/").json()

    assert [r["id"] for r in listed] == [run.pk]
    assert detail["status"] == "partial"
    assert detail["source_name"] == "lab"
    scopes = {s["scope"]: s for s in detail["scope_runs"]}
    assert len(scopes) == run.scope_runs.count() > 1
    failed = scopes["gcp/acme-prod"]
    assert (failed["status"], failed["complete"]) == ("failed", False)
    assert "AccessDenied" in failed["error"]
    assert rows(client.get("/api/v1/runs/?status=partial"))[0]["id"] == run.pk
    assert rows(client.get("/api/v1/runs/?status=succeeded")) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["AddPermission", "UpdateFunctionCode"]),
        ("actor=arn:aws:iam::111111111111:user/alice", ["UpdateFunctionCode"]),
        ("action=AddPermission", ["AddPermission"]),
        ("q=mallory", ["AddPermission"]),
        ("q=function:pay-api", ["AddPermission", "UpdateFunctionCode"]),
        ("provider=gcp", []),
        ("occurred_after=2026-11-01T10:30:00Z", ["AddPermission"]),
        ("occurred_before=2026-11-01T10:30:00Z", ["UpdateFunctionCode"]),
        ("ordering=occurred_at", ["UpdateFunctionCode", "AddPermission"]),
    ],
)
def test_event_filters(client, estate, query, expected):
    assert [e["action"] for e in rows(client.get(f"/api/v1/events/?{query}"))] == expected


def test_events_link_to_their_asset(client, estate):
    by_asset = rows(client.get(f"/api/v1/events/?asset={estate[PAY_API].pk}"))
    other = rows(client.get(f"/api/v1/events/?asset={estate[OLD_REPORT].pk}"))

    assert {e["asset_key"] for e in by_asset} == {PAY_API}
    assert other == []


def test_audit_log_filters(client, reconciler, estate, platform):
    old_report = Asset.objects.get(key=OLD_REPORT)
    services.assign_owner([old_report], platform, reconciler)
    services.audit(reconciler, "team.update", platform, before={"contact": ""})

    assigned = rows(client.get("/api/v1/audit/?action=asset.assign"))
    by_type = rows(client.get("/api/v1/audit/?object_type=team"))
    by_actor = rows(client.get(f"/api/v1/audit/?actor_name={reconciler.username}"))
    nobody = rows(client.get("/api/v1/audit/?actor_name=someone-else"))

    assert [(e["object_id"], e["actor_name"]) for e in assigned] == [
        (str(old_report.pk), reconciler.username)
    ]
    assert [e["action"] for e in by_type] == ["team.update"]
    assert len(by_actor) == 2
    assert nobody == []


def test_audit_log_is_read_only_even_for_admins(api, admin_user, reconciler, platform):
    entry = services.audit(reconciler, "team.update", platform)
    client = api(admin_user)

    assert client.delete(f"/api/v1/audit/{entry.pk}/").status_code == 405
    assert client.patch(f"/api/v1/audit/{entry.pk}/", {"note": "x"}).status_code == 405
    assert client.get(f"/api/v1/audit/{entry.pk}/").json()["action"] == "team.update"


def test_event_time_window_is_half_open(client, estate):
    # evt-2 happened exactly at this instant: "after" includes it, "before" does not.
    at = (NOW - timedelta(hours=1)).isoformat()

    after = rows(client.get("/api/v1/events/", {"occurred_after": at}))
    before = rows(client.get("/api/v1/events/", {"occurred_before": at}))

    assert [e["action"] for e in after] == ["AddPermission"]
    assert [e["action"] for e in before] == ["UpdateFunctionCode"]
