"""Team scoping in the REST API: querysets and writes follow the same helper as the pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services
from inventory.models import Asset, AuditLog
from tests.conftest import PLATFORM_SECRET


def asset_names(response):
    assert response.status_code == 200, response.content
    return sorted(row["name"] for row in response.json()["results"])


def test_a_scoped_reconciler_lists_and_reads_only_their_scope(api, scoped_estate, reconciler):
    client = api(reconciler)
    assert asset_names(client.get("/api/v1/assets/")) == ["pay", "shadow"]
    assert client.get(f"/api/v1/assets/{scoped_estate['plat'].pk}/").status_code == 404
    assert client.get(f"/api/v1/assets/{scoped_estate['pay'].pk}/").status_code == 200
    visible = {scoped_estate["pay"].pk, scoped_estate["shadow"].pk}
    findings = client.get("/api/v1/findings/").json()["results"]
    assert findings and {row["asset"]["id"] for row in findings} == visible
    events = client.get("/api/v1/events/").json()["results"]
    assert len(events) == 2 and {row["asset"] for row in events} == visible


def test_a_scoped_reconciler_decides_only_in_scope(api, scoped_estate, reconciler):
    client = api(reconciler)
    payments, platform = scoped_estate["teams"]["payments"], scoped_estate["teams"]["platform"]
    plat, shadow = scoped_estate["plat"], scoped_estate["shadow"]

    one = client.post(
        f"/api/v1/assets/{plat.pk}/decision/",
        {"action": "assign", "team": payments.slug},
        format="json",
    )
    bulk = client.post(
        "/api/v1/assets/decisions/",
        {"action": "clear", "assets": [shadow.pk, plat.pk]},
        format="json",
    )
    other_team = client.post(
        f"/api/v1/assets/{shadow.pk}/decision/",
        {"action": "assign", "team": platform.slug},
        format="json",
    )
    assert (one.status_code, bulk.status_code, other_team.status_code) == (404, 400, 403)
    assert f"No asset with id {plat.pk}" in bulk.content.decode()
    assert Asset.objects.get(pk=plat.pk).owner == platform
    assert not AuditLog.objects.exclude(object_type="apitoken").exists()

    claimed = client.post(
        "/api/v1/assets/decisions/",
        {"action": "assign", "team": payments.slug, "assets": [shadow.pk]},
        format="json",
    )
    assert claimed.status_code == 200 and claimed.json()["decided"] == 1
    assert Asset.objects.get(pk=shadow.pk).owner == payments


def test_viewers_and_admins_read_everything(api, scoped_estate, viewer, admin_user):
    for person in (viewer, admin_user):
        assert asset_names(api(person).get("/api/v1/assets/")) == ["pay", "plat", "shadow"]


LISTS = ["assets", "findings", "events", "teams", "rules", "audit"]


def test_no_list_or_detail_names_another_teams_asset(
    api, scoped_estate, platform_ledger, reconciler, admin_user
):
    ledger = platform_ledger(2)
    platform = scoped_estate["teams"]["platform"]
    services.accept_risk([scoped_estate["plat"], *ledger], admin_user, "known", team=platform)
    client = api(reconciler)
    answers = {name: client.get(f"/api/v1/{name}/") for name in LISTS}
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.content)
        assert PLATFORM_SECRET not in response.content.decode(), name
        assert "arn:fn:plat" not in response.content.decode(), name
    assert asset_names(answers["assets"]) == ["orphan-app", "pay", "shadow"]
    assert {row["parent_id"] for row in answers["assets"].json()["results"]} == {None}
    assert answers["assets"].json()["count"] == 3
    assert [team["slug"] for team in answers["teams"].json()["results"]] == ["payments"]
    assert [rule["name"] for rule in answers["rules"].json()["results"]] == ["payments"]
    assert answers["events"].json()["count"] == 2
    assert answers["audit"].json()["count"] == 0  # the decisions were about Platform's assets

    orphan = client.get(f"/api/v1/assets/{Asset.objects.get(name='orphan-app').pk}/")
    assert orphan.status_code == 200
    detail = orphan.json()
    assert (detail["parent"], detail["parent_id"], detail["parent_key"]) == (None, None, "")
    assert PLATFORM_SECRET not in orphan.content.decode()
    assert client.get("/api/v1/teams/platform/").status_code == 404
    assert client.get(f"/api/v1/assets/{ledger[0].pk}/").status_code == 404

    everything = api(admin_user)
    assert everything.get("/api/v1/assets/").json()["count"] == 7  # 3, cluster, orphan, 2
    assert everything.get("/api/v1/audit/").json()["count"] > 0
    assert everything.get("/api/v1/events/").json()["count"] == 3 + 2 * 2
    parent = everything.get(f"/api/v1/assets/{Asset.objects.get(name='orphan-app').pk}/").json()
    assert parent["parent"]["name"] == f"{PLATFORM_SECRET}-cluster"
    listed = everything.get("/api/v1/assets/", {"q": "orphan-app"}).json()["results"]
    assert [row["parent_id"] for row in listed] == [parent["parent"]["id"]]


def test_runs_on_never_confirms_another_teams_cluster(
    api, scoped_estate, platform_ledger, reconciler, viewer
):
    """Platform's cluster holds an unowned workload the reconciler sees; the cluster, named
    by its name or key, is not looked up for them."""
    platform_ledger(1)
    for value in (f"{PLATFORM_SECRET}-cluster", f"k8s://{PLATFORM_SECRET}"):
        wanted = {"runs_on": value}
        assert asset_names(api(viewer).get("/api/v1/assets/", wanted)) == ["orphan-app"]
        assert asset_names(api(reconciler).get("/api/v1/assets/", wanted)) == []


def test_a_scoped_reconciler_reads_decisions_about_their_assets(
    api, scoped_estate, reconciler, admin_user
):
    payments = scoped_estate["teams"]["payments"]
    services.assign_owner([scoped_estate["shadow"]], payments, reconciler, reason="ours")
    services.assign_owner([scoped_estate["plat"]], payments, admin_user, reason="moved")
    services.assign_owner([scoped_estate["plat"]], scoped_estate["teams"]["platform"], admin_user)
    rows = api(reconciler).get("/api/v1/audit/").json()["results"]
    assert [(row["action"], row["object_repr"]) for row in rows] == [("asset.assign", "shadow")]


@pytest.mark.parametrize("name", LISTS)
def test_scoped_lists_cost_the_same_whatever_the_other_teams_hold(
    api, scoped_estate, platform_ledger, reconciler, name, django_assert_max_num_queries
):
    client = api(reconciler)
    platform_ledger(1)
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/api/v1/{name}/").status_code == 200
    platform_ledger(6)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(f"/api/v1/{name}/").status_code == 200
