"""The reconciliation queue: ranking, evidence, suggested owners, and the decisions reconcilers
make from it (one by one, in place with htmx, and in bulk) — audited, and refused to viewers."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from collectors.records import AccessRecord
from inventory.ingest import ScopeIngest
from inventory.models import (
    Asset,
    AssetChange,
    AuditLog,
    OwnershipRule,
    Team,
    TrackingDecision,
    TrackingStatus,
)
from tests.conftest import NOW, asset

from .helpers import (
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    PAGE_BUDGET,
    ingest_hostile_asset,
    page_of,
    queries_for,
    text_of,
)

pytestmark = pytest.mark.django_db
QUEUE = "/reconcile/"
DECIDE = "/reconcile/decide/"


def queued(page: str) -> list[int]:
    table = page.split('data-testid="queue"')[1].split("</table>")[0]
    return [int(pk) for pk in re.findall(r'<tr data-asset="(\d+)"', table)]


def untracked():
    return Asset.objects.filter(gone_at__isnull=True, tracking=TrackingStatus.UNTRACKED)


def ranking(a):
    """The queue's order, as the page promises it."""
    worst = -1 if a.max_severity is None else a.max_severity
    return (not a.exposed, -worst, not a.eol, a.first_seen, a.pk)


@pytest.fixture
def data_team(db):
    return Team.objects.create(name="Data Science", slug="data-science")


# --- reading the queue ----------------------------------------------------------------------


def test_the_queue_lists_untracked_assets_riskiest_first(client, viewer, estate):
    estate("old", {"acct-o": 6}, at=NOW - timedelta(days=45))
    estate("prod", {"acct-a": 12})
    client.force_login(viewer)
    page = page_of(client.get(QUEUE))
    expected = [a.pk for a in sorted(untracked(), key=ranking)]
    assert queued(page) == expected
    assert len(expected) == 3 + 6
    assert text_of(page, "queue-count").endswith("9 assets without an owner")
    first = page.split(f'<tr data-asset="{expected[0]}"')[1].split("</tr>")[0]
    assert "Reachable from the internet" in first
    # the old source's untracked functions, unclaimed since it first saw them
    days = (timezone.now() - (NOW - timedelta(days=45))).days
    assert f"Unclaimed for {days} days" in page


def test_each_row_shows_its_evidence_and_a_suggested_owner(client, viewer, estate, payments):
    estate("prod", {"acct-a": 8})
    client.force_login(viewer)
    fn3 = Asset.objects.get(key="fn://acct-a/3")
    page = page_of(client.get(QUEUE))
    row = page.split(f'<tr data-asset="{fn3.pk}"')[1].split("</tr>")[0]
    assert "purpose" in row and "adhoc" in row  # its tags
    # nobody is named as creator by the collector: the access history says who did it
    assert "deployer-3@example.com" in row and "(access history)" in row
    # its owned namesakes fn-0000, fn-0002 … belong to Payments
    assert "Named alike" in row and "fn-0000" in row
    assert re.search(r'class="suggested-team">Payments</a>', row)
    assert "owned assets named fn-… are Payments" in row


def test_a_tag_naming_a_team_suggests_it(client, reconciler, scope_run, data_team):
    ingest = ScopeIngest(scope_run())
    ingest.add(asset("arn:fn:lonely", name="notebook-7", labels={"squad": "Data_Science"}))
    ingest.finish(complete=True)
    client.force_login(reconciler)
    page = page_of(client.get(QUEUE))
    assert "tag squad=Data_Science names Data Science" in page
    assert f'name="team" value="{data_team.pk}"' in page  # the one-click assignment
    assert "Assign to Data Science" in page


def test_viewers_read_the_queue_without_any_control(client, viewer, estate):
    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    page = page_of(client.get(QUEUE))
    assert len(queued(page)) == 2
    assert DECIDE not in page
    assert 'type="checkbox"' not in page
    assert "Assign to" not in page
    page = page_of(client.get(Asset.objects.get(key="fn://acct-a/1").get_absolute_url()))
    assert DECIDE not in page and 'data-testid="decide"' not in page
    assert 'data-testid="suggestion"' in page  # reading the evidence is fine


@pytest.mark.parametrize("role", ["viewer", "none"])
def test_people_who_may_not_decide_get_403_and_nothing_changes(client, estate, payments, role):
    from tests.conftest import make_user

    estate("prod", {"acct-a": 4})
    client.force_login(make_user("someone", None if role == "none" else role))
    target = Asset.objects.get(key="fn://acct-a/1")
    response = client.post(DECIDE, {"action": "assign", "asset": target.pk, "team": payments.pk})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.tracking == TrackingStatus.UNTRACKED and target.owner is None
    assert not AuditLog.objects.exists()


def test_anonymous_posts_go_to_the_login_page(client, estate, payments):
    estate("prod", {"acct-a": 2})
    target = Asset.objects.get(key="fn://acct-a/1")
    response = client.post(DECIDE, {"action": "assign", "asset": target.pk, "team": payments.pk})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not AuditLog.objects.exists()


def test_decisions_need_the_csrf_token(reconciler, estate, payments):
    from django.test import Client

    estate("prod", {"acct-a": 2})
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    response = strict.post(DECIDE, {"action": "assign", "asset": target.pk, "team": payments.pk})
    assert response.status_code == 403
    assert not AuditLog.objects.exists()


# --- deciding -------------------------------------------------------------------------------


def test_assigning_one_asset_takes_it_off_the_queue_and_audits_it(
    client, reconciler, estate, payments
):
    estate("prod", {"acct-a": 4})
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/3")
    assert target.pk in queued(page_of(client.get(QUEUE)))

    response = client.post(
        DECIDE,
        {"action": "assign", "asset": target.pk, "team": payments.pk, "next": QUEUE},
    )
    assert response.status_code == 302 and response["Location"] == QUEUE
    target.refresh_from_db()
    assert (target.owner, target.tracking) == (payments, TrackingStatus.TRACKED)
    assert target.owner_basis == "decision"
    entry = AuditLog.objects.get()
    assert (entry.action, entry.actor, entry.object_id) == (
        "asset.assign",
        reconciler,
        str(target.pk),
    )
    assert AssetChange.objects.filter(asset=target, field="tracking", actor=reconciler).exists()

    page = page_of(client.get(QUEUE))
    assert target.pk not in queued(page)
    assert "Assigned 1 asset to Payments." in page  # the message after the redirect


def test_assigning_in_place_with_htmx_answers_with_the_decided_row(
    client, reconciler, estate, payments
):
    estate("prod", {"acct-a": 2})
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    response = client.post(
        DECIDE,
        {"action": "assign", "asset": target.pk, "team": payments.pk},
        headers={"HX-Request": "true"},
    )
    body = page_of(response)
    assert body.startswith("<tr") and 'class="decided"' in body
    assert "Assigned 1 asset to Payments." in body
    assert f'data-decided="{target.pk}"' in body
    target.refresh_from_db()
    assert target.tracking == TrackingStatus.TRACKED


def test_a_refused_decision_with_htmx_sends_the_browser_back_to_read_why(
    client, reconciler, estate
):
    estate("prod", {"acct-a": 2})
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    response = client.post(
        DECIDE, {"action": "assign", "asset": target.pk, "next": QUEUE}, headers={"HX-Request": "1"}
    )
    assert response.status_code == 204 and response["HX-Redirect"] == QUEUE
    assert "Nothing was changed: Choose the team." in page_of(client.get(QUEUE))


def test_accepting_the_risk_of_a_selection_in_bulk(client, reconciler, estate):
    estate("prod", {"acct-a": 8})
    client.force_login(reconciler)
    chosen = [Asset.objects.get(key=f"fn://acct-a/{n}").pk for n in (1, 5, 7)]
    expires = (timezone.localdate() + timedelta(days=30)).isoformat()
    response = client.post(
        DECIDE,
        {
            "action": "accept",
            "asset": chosen,
            "reason": "Load test rig, gone by March",
            "expires": expires,
            "next": QUEUE,
        },
    )
    assert response.status_code == 302
    decisions = TrackingDecision.objects.filter(asset_id__in=chosen, active=True)
    assert decisions.count() == 3
    assert {d.expires_at.date().isoformat() for d in decisions} == {expires}
    assert {d.reason for d in decisions} == {"Load test rig, gone by March"}
    assert set(Asset.objects.filter(pk__in=chosen).values_list("tracking", flat=True)) == {
        TrackingStatus.ACCEPTED
    }
    assert AuditLog.objects.filter(action="asset.accept_risk", actor=reconciler).count() == 3
    page = page_of(client.get(QUEUE))
    assert not set(chosen) & set(queued(page))
    assert "Accepted the risk of 3 assets until" in page


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"action": "accept", "reason": ""}, "Say why the risk is accepted."),
        (
            {"action": "accept", "reason": "ok", "expires": "2000-01-01"},
            "must be a day in the future",
        ),
        ({"action": "assign"}, "Choose the team."),
        ({"action": "rule", "tag": "nope=x", "team": "TEAM"}, "must carry this tag"),
        ({"action": "explode"}, "Select a valid choice"),
    ],
)
def test_a_decision_that_does_not_validate_changes_nothing_and_says_why(
    client, reconciler, estate, payments, data, problem
):
    estate("prod", {"acct-a": 2})
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    data = {**data, "asset": target.pk, "next": QUEUE}
    if data.get("team") == "TEAM":
        data["team"] = payments.pk
    response = client.post(DECIDE, data, follow=True)
    assert problem in html.unescape(page_of(response))
    target.refresh_from_db()
    assert target.tracking == TrackingStatus.UNTRACKED
    assert (
        not AuditLog.objects.exists() and not OwnershipRule.objects.exclude(team=payments).exists()
    )


def test_a_rule_from_a_tag_resolves_every_asset_carrying_it(client, reconciler, estate, data_team):
    estate("prod", {"acct-a": 6, "acct-b": 4})
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    assert target.labels == {"purpose": "adhoc"}
    response = client.post(
        DECIDE,
        {"action": "rule", "asset": target.pk, "tag": "purpose=adhoc", "team": data_team.pk},
        follow=True,
    )
    page = page_of(response)
    rule = OwnershipRule.objects.get(tag_key="purpose")
    assert (rule.tag_value, rule.team, rule.name) == ("adhoc", data_team, "Tag purpose=adhoc")
    assert rule.position > OwnershipRule.objects.exclude(pk=rule.pk).get().position
    # every function without the owner tag carries purpose=adhoc: all of them now belong
    assert not untracked().exists()
    assert Asset.objects.filter(owner=data_team).count() == 3 + 2
    assert AuditLog.objects.filter(action="rule.create", actor=reconciler).count() == 1
    assert "Created the rule “Tag purpose=adhoc” → Data Science; 5 assets changed owner." in page


def test_a_rule_from_a_tag_on_a_selection_needs_the_tag_on_every_asset(
    client, reconciler, estate, data_team
):
    estate("prod", {"acct-a": 6})
    client.force_login(reconciler)
    odd = [Asset.objects.get(key=f"fn://acct-a/{n}").pk for n in (1, 3)]
    even = Asset.objects.get(key="fn://acct-a/2").pk  # tagged team=payments instead
    data = {"action": "rule", "tag": "purpose=adhoc", "team": data_team.pk, "next": QUEUE}
    page = page_of(client.post(DECIDE, {**data, "asset": [*odd, even]}, follow=True))
    assert "Every chosen asset must carry this tag." in page
    assert not OwnershipRule.objects.filter(tag_key="purpose").exists()
    page = page_of(client.post(DECIDE, {**data, "asset": odd}, follow=True))
    assert OwnershipRule.objects.filter(tag_key="purpose", team=data_team).count() == 1
    assert not untracked().exists()  # fn 5 carried the tag too


def test_clearing_a_decision_hands_the_asset_back_to_the_rules(
    client, reconciler, estate, payments
):
    estate("prod", {"acct-a": 2})
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    client.post(DECIDE, {"action": "assign", "asset": target.pk, "team": payments.pk})
    page = page_of(client.get(target.get_absolute_url()))
    assert 'value="clear"' in page  # the asset page offers to clear it
    client.post(DECIDE, {"action": "clear", "asset": target.pk})
    target.refresh_from_db()
    assert (target.tracking, target.owner) == (TrackingStatus.UNTRACKED, None)
    assert AuditLog.objects.filter(action="asset.clear_decision").count() == 1


def test_decisions_never_redirect_off_site(client, reconciler, estate, payments):
    estate("prod", {"acct-a": 2})
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    response = client.post(
        DECIDE,
        {"action": "assign", "asset": target.pk, "team": payments.pk, "next": "https://x.example/"},
    )
    assert response["Location"] == reverse("dashboard:reconcile")


def test_gone_assets_cannot_be_decided(client, reconciler, estate, payments):
    estate("prod", {"acct-a": 4})
    estate("prod", {"acct-a": 2})
    gone = Asset.objects.get(key="fn://acct-a/3")
    assert gone.gone_at is not None
    client.force_login(reconciler)
    client.post(DECIDE, {"action": "assign", "asset": gone.pk, "team": payments.pk})
    gone.refresh_from_db()
    assert gone.tracking == TrackingStatus.UNTRACKED and not AuditLog.objects.exists()


# --- claiming for my team -------------------------------------------------------------------


def claim_controls(page: str) -> str:
    """Every claim button and choice of team to claim for, in the rows and the bulk bar."""
    found = re.findall(
        r'<select[^>]*name="my_team".*?</select>|<button[^>]*value="claim"[^>]*>.*?</button>',
        page,
        re.S,
    )
    return " ".join(found)


def test_a_member_of_one_team_claims_in_one_click(client, reconciler, estate, payments):
    estate("prod", {"acct-a": 4})
    payments.members.add(reconciler)
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/3")
    page = page_of(client.get(QUEUE))
    assert "Claim for Payments" in page
    assert f'name="my_team" value="{payments.pk}"' in page

    response = client.post(
        DECIDE,
        {"action": "claim", "asset": target.pk, "my_team": payments.pk},
        headers={"HX-Request": "true"},
    )
    body = page_of(response)
    assert 'class="decided"' in body and "Claimed 1 asset for Payments." in body
    target.refresh_from_db()
    assert (target.owner, target.tracking) == (payments, TrackingStatus.TRACKED)
    assert target.decision.decided_by == reconciler
    entry = AuditLog.objects.get()
    assert (entry.action, entry.actor, entry.object_id) == (
        "asset.claim",
        reconciler,
        str(target.pk),
    )
    assert entry.after["team"] == "Payments"
    assert target.pk not in queued(page_of(client.get(QUEUE)))
    audit = page_of(client.get(reverse("dashboard:audit")))
    assert "Claimed for their team" in audit


def test_without_a_team_named_the_only_team_claims(client, reconciler, estate, payments):
    estate("prod", {"acct-a": 2})
    payments.members.add(reconciler)
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    client.post(DECIDE, {"action": "claim", "asset": target.pk})
    target.refresh_from_db()
    assert target.owner == payments


def test_a_member_of_several_teams_picks_one_of_theirs(
    client, reconciler, estate, payments, data_team
):
    estate("prod", {"acct-a": 4})
    payments.members.add(reconciler)
    data_team.members.add(reconciler)
    Team.objects.create(name="Elsewhere", slug="elsewhere")
    client.force_login(reconciler)
    controls = claim_controls(page_of(client.get(QUEUE)))
    assert "Claim for" not in controls
    assert "Payments" in controls and "Data Science" in controls
    assert "Elsewhere" not in controls  # only the teams they are in

    target = Asset.objects.get(key="fn://acct-a/1")
    page = page_of(client.post(DECIDE, {"action": "claim", "asset": target.pk}, follow=True))
    assert "Choose which of your teams claims it." in page
    target.refresh_from_db()
    assert target.tracking == TrackingStatus.UNTRACKED
    client.post(DECIDE, {"action": "claim", "asset": target.pk, "my_team": data_team.pk})
    target.refresh_from_db()
    assert target.owner == data_team


def test_a_reconciler_in_no_team_sees_no_claim_and_cannot_claim(
    client, reconciler, estate, payments
):
    estate("prod", {"acct-a": 4})
    client.force_login(reconciler)
    page = page_of(client.get(QUEUE))
    assert "Assign to" in page  # they still decide, just not as a team's member
    assert claim_controls(page) == "" and 'value="claim"' not in page
    target = Asset.objects.get(key="fn://acct-a/1")
    assert 'value="claim"' not in page_of(client.get(target.get_absolute_url()))

    page = page_of(client.post(DECIDE, {"action": "claim", "asset": target.pk}, follow=True))
    assert "You are not in any team" in page
    page = page_of(
        client.post(
            DECIDE, {"action": "claim", "asset": target.pk, "my_team": payments.pk}, follow=True
        )
    )
    assert "Select a valid choice" in page  # someone else's team is not theirs to claim for
    target.refresh_from_db()
    assert target.tracking == TrackingStatus.UNTRACKED and not AuditLog.objects.exists()


def test_claiming_a_selection_in_bulk(client, reconciler, estate, payments):
    estate("prod", {"acct-a": 8})
    payments.members.add(reconciler)
    client.force_login(reconciler)
    page = page_of(client.get(QUEUE))
    assert 'data-testid="bulk-claim"' in page
    chosen = [Asset.objects.get(key=f"fn://acct-a/{n}").pk for n in (1, 5, 7)]
    response = client.post(
        DECIDE, {"action": "claim", "asset": chosen, "my_team": payments.pk, "next": QUEUE}
    )
    assert response.status_code == 302
    assert set(Asset.objects.filter(pk__in=chosen).values_list("owner", flat=True)) == {payments.pk}
    assert AuditLog.objects.filter(action="asset.claim", actor=reconciler).count() == 3
    assert "Claimed 3 assets for Payments." in page_of(client.get(QUEUE))


def test_the_asset_page_offers_the_claim_too(client, reconciler, estate, payments):
    estate("prod", {"acct-a": 2})
    payments.members.add(reconciler)
    client.force_login(reconciler)
    target = Asset.objects.get(key="fn://acct-a/1")
    page = page_of(client.get(target.get_absolute_url()))
    assert 'data-testid="claim"' in page and "Claim for Payments" in page


def test_a_viewer_in_a_team_sees_no_claim_and_gets_403(client, viewer, estate, payments):
    estate("prod", {"acct-a": 2})
    payments.members.add(viewer)
    client.force_login(viewer)
    assert "Claim" not in page_of(client.get(QUEUE))
    target = Asset.objects.get(key="fn://acct-a/1")
    response = client.post(DECIDE, {"action": "claim", "asset": target.pk})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.tracking == TrackingStatus.UNTRACKED and not AuditLog.objects.exists()


def test_a_members_queue_costs_no_more_queries(client, reconciler, estate, payments, data_team):
    estate("prod", {"acct-a": 6})
    client.force_login(reconciler)
    queries_for(client, QUEUE)  # the estate-wide figures are cached from now on
    alone = queries_for(client, QUEUE)
    payments.members.add(reconciler)
    data_team.members.add(reconciler)
    assert queries_for(client, QUEUE) == alone


# --- scale and hostile input ----------------------------------------------------------------


def test_queue_pages_and_queries_do_not_grow_with_the_queue(
    client, reconciler, estate, django_assert_max_num_queries
):
    client.force_login(reconciler)
    estate("small", {"acct-0": 3})
    small = queries_for(client, QUEUE)
    assert small <= PAGE_BUDGET
    estate("big", {f"acct-{n}": 40 for n in range(1, 4)})
    with django_assert_max_num_queries(small):
        first = page_of(client.get(QUEUE))
    expected = [a.pk for a in sorted(untracked(), key=ranking)]
    assert queued(first) == expected[:50]
    after = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', first).group(1))
    with django_assert_max_num_queries(small):
        second = page_of(client.get(QUEUE + after))
    assert queued(second) == expected[50:]


def test_hostile_names_tags_and_actors_are_escaped_in_the_queue(client, reconciler, scope_run):
    hostile = ingest_hostile_asset(scope_run)
    ingest = ScopeIngest(scope_run())
    ingest.add(
        AccessRecord(
            event_id="evt-creator",
            provider="aws",
            occurred_at=NOW - timedelta(days=1),
            action="CreateFunction",
            asset_key=hostile.key,
            actor=HOSTILE_SCRIPT,
        )
    )
    ingest.finish(complete=False)
    client.force_login(reconciler)
    page = page_of(client.get(QUEUE))
    assert queued(page) == [hostile.pk]
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(HOSTILE_SCRIPT) in page  # its name and its tag value
    assert html.escape(HOSTILE_IMG) in page  # its creator and a tag key
    # on its page, the rule-from-tag choice carries the hostile tag as an escaped value
    page = page_of(client.get(hostile.get_absolute_url()))
    assert f'value="{html.escape(HOSTILE_IMG)}=value"' in page
    assert "<script>alert" not in page and "<img src=x" not in page
