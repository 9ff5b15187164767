"""Team scoping: one helper narrows assets for a scoped reconciler, and the services refuse
their decisions outside it, whatever door they come through."""

import pytest
from django.core.exceptions import PermissionDenied

from inventory import scoping, services
from inventory.models import Asset, AuditLog, OwnershipRule, TrackingStatus
from inventory.roles import ADMIN, RECONCILER, VIEWER
from tests.conftest import make_user


def names(assets):
    return sorted(a.name for a in assets)


def test_a_scoped_reconciler_sees_their_teams_assets_and_the_unowned_pool(
    scoped_estate, reconciler
):
    assert names(scoping.visible_assets(reconciler)) == ["pay", "shadow"]


def test_a_reconciler_in_no_team_sees_only_the_unowned_pool(scoped_estate):
    loner = make_user("loner", RECONCILER)
    assert names(scoping.visible_assets(loner)) == ["shadow"]


@pytest.mark.parametrize("role", [VIEWER, ADMIN])
def test_viewers_and_admins_see_everything(scoped_estate, role):
    person = make_user(f"a-{role}", role)
    assert names(scoping.visible_assets(person)) == ["pay", "plat", "shadow"]


def test_with_scoping_off_a_reconciler_sees_everything(scoped_estate, reconciler, settings):
    settings.DAYLIGHT_TEAM_SCOPING = False
    assert names(scoping.visible_assets(reconciler)) == ["pay", "plat", "shadow"]


def test_the_helper_narrows_any_asset_queryset_it_is_given(scoped_estate, reconciler):
    exposed = Asset.objects.filter(exposed=True)
    assert names(scoping.visible_assets(reconciler, exposed)) == ["pay", "shadow"]


def test_a_scoped_reconciler_claims_an_unowned_asset_for_their_team(scoped_estate, reconciler):
    payments = scoped_estate["teams"]["payments"]
    services.assign_owner([scoped_estate["shadow"]], payments, reconciler, reason="ours")
    shadow = Asset.objects.get(name="shadow")
    assert shadow.owner == payments and shadow.tracking == TrackingStatus.TRACKED


def test_a_scoped_reconciler_decides_nothing_about_another_teams_asset(scoped_estate, reconciler):
    plat, payments = scoped_estate["plat"], scoped_estate["teams"]["payments"]
    attempts = [
        lambda: services.assign_owner([plat], payments, reconciler),
        lambda: services.assign_owner([scoped_estate["shadow"], plat], payments, reconciler),
        lambda: services.accept_risk([plat], reconciler, "fine by me"),
        lambda: services.clear_decision([plat], reconciler),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    plat.refresh_from_db()
    assert plat.owner == scoped_estate["teams"]["platform"]
    assert Asset.objects.get(name="shadow").owner is None
    assert not AuditLog.objects.exists()


def test_a_scoped_reconciler_gives_nothing_to_a_team_they_are_not_in(scoped_estate, reconciler):
    platform = scoped_estate["teams"]["platform"]
    with pytest.raises(PermissionDenied, match="not a member of Platform"):
        services.assign_owner([scoped_estate["shadow"]], platform, reconciler)
    rule = OwnershipRule(name="x", team=platform, tag_key="k", tag_value="v", position=99)
    with pytest.raises(PermissionDenied):
        services.save_rule(rule, reconciler)
    assert not OwnershipRule.objects.filter(name="x").exists()
    assert not AuditLog.objects.exists()


def test_admins_decide_for_any_team(scoped_estate, admin_user):
    platform = scoped_estate["teams"]["platform"]
    services.assign_owner([scoped_estate["pay"]], platform, admin_user)
    assert Asset.objects.get(name="pay").owner == platform
