"""Human decisions: ownership, accepted risk, expiry, rule changes — each audited."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from inventory import services
from inventory.ingest import ScopeIngest
from inventory.models import Asset, AuditLog, OwnershipRule, Team, TrackingStatus
from tests.conftest import asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(scope_run):
    session = ScopeIngest(scope_run())
    for name in ("a", "b", "c"):
        session.add(asset(f"arn:fn:{name}", labels={"team": "pay"} if name == "c" else {}))
    session.finish(complete=True)
    return {a.name: a for a in Asset.objects.all()}


@pytest.fixture
def payments(db):
    return Team.objects.create(name="Payments", slug="payments")


def test_assigning_owner_tracks_the_asset_and_audits_it(estate, payments, reconciler):
    services.assign_owner([estate["a"], estate["b"]], payments, reconciler, reason="their lambda")

    for name in ("a", "b"):
        a = Asset.objects.get(name=name)
        assert (a.owner, a.tracking, a.owner_basis) == (
            payments,
            TrackingStatus.TRACKED,
            "decision",
        )
        assert a.changes.filter(field="owner", new="Payments", actor=reconciler).exists()
    entries = AuditLog.objects.filter(action="asset.assign")
    assert entries.count() == 2 and entries.first().actor_name == "itstaff"
    assert entries.first().after["team"] == "Payments"


def test_decision_survives_collection(estate, payments, reconciler, scope_run):
    services.assign_owner([estate["a"]], payments, reconciler)
    session = ScopeIngest(scope_run(at=timezone.now()))
    session.add(asset("arn:fn:a", labels={"new": "tag"}))
    session.finish(complete=False)

    a = Asset.objects.get(name="a")
    assert (
        a.owner == payments and a.tracking == TrackingStatus.TRACKED and a.labels == {"new": "tag"}
    )


def test_only_a_member_claims_for_a_team(estate, payments, reconciler):
    with pytest.raises(PermissionDenied):
        services.claim_for_team([estate["a"]], payments, reconciler)
    assert not AuditLog.objects.exists()
    payments.members.add(reconciler)
    assert services.claim_for_team([estate["a"]], payments, reconciler, reason="ours") == 1
    claimed = Asset.objects.get(name="a")
    assert (claimed.owner, claimed.tracking) == (payments, TrackingStatus.TRACKED)
    entry = AuditLog.objects.get()
    assert (entry.action, entry.actor, entry.after["reason"]) == ("asset.claim", reconciler, "ours")


def test_accepted_risk_needs_a_reason_and_expires(estate, reconciler):
    with pytest.raises(ValueError, match="reason"):
        services.accept_risk([estate["a"]], reconciler, reason="  ")

    soon = timezone.now() + timedelta(days=1)
    services.accept_risk([estate["a"]], reconciler, reason="lab box, isolated", expires_at=soon)
    assert Asset.objects.get(name="a").tracking == TrackingStatus.ACCEPTED

    assert services.expire_decisions(now=soon - timedelta(minutes=1)) == 0
    assert services.expire_decisions(now=soon + timedelta(minutes=1)) == 1
    a = Asset.objects.get(name="a")
    assert a.tracking == TrackingStatus.UNTRACKED and a.decision is None
    expired = AuditLog.objects.get(action="asset.decision_expired")
    assert expired.actor is None and expired.actor_name == "daylight"


def test_clearing_a_decision_lets_rules_decide_again(estate, payments, reconciler):
    platform = Team.objects.create(name="Platform", slug="platform")
    OwnershipRule.objects.create(name="tag", team=platform, tag_key="team")
    services.refresh_ownership([estate["c"].pk])
    services.assign_owner([estate["c"]], payments, reconciler)
    assert Asset.objects.get(name="c").owner == payments

    services.clear_decision([estate["c"]], reconciler)
    assert Asset.objects.get(name="c").owner == platform


def test_saving_and_deleting_a_rule_rederives_owners(estate, payments, admin_user):
    rule = OwnershipRule(name="pay tag", team=payments, tag_key="team", tag_value="pay")
    assert services.save_rule(rule, admin_user) == 1
    c = Asset.objects.get(name="c")
    assert c.owner == payments and c.owner_rule == rule

    services.delete_rule(rule, admin_user)
    c.refresh_from_db()
    assert c.owner is None and c.tracking == TrackingStatus.UNTRACKED
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == [
        "rule.create",
        "rule.delete",
    ]


def test_audit_log_is_append_only(admin_user):
    entry = services.audit(admin_user, "test.action", object_type="thing")
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_configuration_changes_in_the_admin_site_are_audited(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/inventory/team/add/", {"name": "Security", "slug": "security", "contact": ""}
    )
    assert response.status_code == 302
    entry = AuditLog.objects.get(action="team.create")
    assert entry.actor == admin_user and entry.before is None and entry.after["slug"] == "security"

    response = client.post(
        "/admin/inventory/source/add/",
        {"name": "bad", "provider": "demo", "config": '{"password": "x"}', "schedule": "* * *"},
    )
    assert response.status_code == 200  # the form shows the errors
    assert not AuditLog.objects.filter(action="source.create").exists()


def test_no_team_may_take_the_slug_that_means_unowned(client, admin_user):
    with pytest.raises(ValidationError) as refused:
        Team(name="Nobody", slug="None").full_clean()
    assert "is reserved" in refused.value.message_dict["slug"][0]

    client.force_login(admin_user)
    response = client.post("/admin/inventory/team/add/", {"name": "Nobody", "slug": "none"})
    assert response.status_code == 200  # the form shows the error beside the slug
    assert "“none” is reserved: it stands for the assets nobody owns" in response.content.decode()
    assert not Team.objects.exists() and not AuditLog.objects.exists()


def test_changing_team_members_in_the_admin_site_is_one_audited_change(client, admin_user):
    from tests.conftest import make_user

    alice, bob = make_user("alice", "reconciler"), make_user("bob", "reconciler")
    client.force_login(admin_user)
    response = client.post(
        "/admin/inventory/team/add/",
        {"name": "Security", "slug": "security", "contact": "", "members": [alice.pk]},
    )
    assert response.status_code == 302
    team = Team.objects.get(slug="security")
    assert list(team.members.all()) == [alice]
    created = AuditLog.objects.get(action="team.create")
    assert created.after["members"] == ["alice"]

    response = client.post(
        f"/admin/inventory/team/{team.pk}/change/",
        {"name": "Security", "slug": "security", "contact": "", "members": [bob.pk]},
    )
    assert response.status_code == 302
    assert list(team.members.all()) == [bob]
    changed = AuditLog.objects.get(action="team.update")
    assert (changed.before["members"], changed.after["members"]) == (["alice"], ["bob"])
    assert changed.actor == admin_user
