"""Team scoping on the dashboard: a scoped reconciler's lists, pages, queue and decisions cover
their teams' assets and the unowned pool only; a viewer still reads everything."""

import pytest
from django.urls import reverse

from inventory.models import Asset, AuditLog

DECIDE = reverse("dashboard:decide")


@pytest.fixture
def scoped(client, scoped_estate, reconciler):
    client.force_login(reconciler)
    return scoped_estate


def listed(response):
    page = response.content.decode()
    return sorted(name for name in ("pay", "plat", "shadow") if f">{name}</a>" in page)


def test_the_asset_list_and_its_export_cover_the_scope(client, scoped):
    assert listed(client.get(reverse("dashboard:assets"))) == ["pay", "shadow"]
    export = client.get(reverse("dashboard:assets-export"))
    csv = b"".join(export.streaming_content).decode()
    assert "arn:fn:pay" in csv and "arn:fn:shadow" in csv and "arn:fn:plat" not in csv


def test_another_teams_asset_page_is_not_found(client, scoped):
    assert client.get(scoped["plat"].get_absolute_url()).status_code == 404
    page = client.get(scoped["shadow"].get_absolute_url()).content.decode()
    assert 'data-testid="decide"' in page or "Assign" in page
    assert ">Payments</option>" in page and ">Platform</option>" not in page


def test_the_queue_holds_the_unowned_pool_and_offers_only_their_teams(client, scoped):
    response = client.get(reverse("dashboard:reconcile"))
    assert listed(response) == ["shadow"]
    page = response.content.decode()
    assert ">Payments</option>" in page and ">Platform</option>" not in page


def test_a_team_page_lists_only_assets_in_scope(client, scoped):
    page = client.get(reverse("dashboard:team", args=["platform"])).content.decode()
    assert ">plat</a>" not in page
    page = client.get(reverse("dashboard:team", args=["payments"])).content.decode()
    assert ">pay</a>" in page


def test_deciding_outside_the_scope_is_403_and_changes_nothing(client, scoped):
    payments, platform = scoped["teams"]["payments"], scoped["teams"]["platform"]
    outside = client.post(
        DECIDE, {"action": "assign", "asset": scoped["plat"].pk, "team": payments.pk}
    )
    other_team = client.post(
        DECIDE, {"action": "assign", "asset": scoped["shadow"].pk, "team": platform.pk}
    )
    assert (outside.status_code, other_team.status_code) == (403, 403)
    assert Asset.objects.get(name="plat").owner == platform
    assert Asset.objects.get(name="shadow").owner is None
    assert not AuditLog.objects.exists()

    claimed = client.post(
        DECIDE, {"action": "assign", "asset": scoped["shadow"].pk, "team": payments.pk}
    )
    assert claimed.status_code == 302
    assert Asset.objects.get(name="shadow").owner == payments


def test_a_viewer_still_reads_everything(client, scoped_estate, viewer):
    client.force_login(viewer)
    assert listed(client.get(reverse("dashboard:assets"))) == ["pay", "plat", "shadow"]
    assert client.get(scoped_estate["plat"].get_absolute_url()).status_code == 200
