"""Team scoping in the REST API: querysets and writes follow the same helper as the pages."""

from inventory.models import Asset, AuditLog


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
