"""Which notifications a collection run, a failing source or an expiry calls for: one digest per
rule per run, routed by team, read from what the real ingest path wrote."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from collectors.records import Endpoint
from inventory import services
from inventory.ingest import ScopeIngest
from inventory.models import (
    CollectionRun,
    Delivery,
    NotificationChannel,
    NotificationRule,
    OwnershipRule,
    RunStatus,
    RunTrigger,
    Scope,
    ScopeRun,
    Team,
)
from inventory.notifications import events
from tests.conftest import NOW, asset

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]
Event = NotificationRule.Event
OPEN = Endpoint("https://open.example", True, "none", "function URL")  # exposed + critical
IAM = Endpoint("https://iam.example", True, "iam", "function URL")  # exposed, not critical


def fn(name, **fields):
    return asset(f"arn:aws:lambda:us-east-1:111111111111:function:{name}", **fields)


def collect(source, records, *, at=NOW, status=RunStatus.SUCCEEDED):
    """A run of ``source`` that ingests ``records`` through the real ingest path."""
    run = CollectionRun.objects.create(
        source=source, trigger=RunTrigger.SCHEDULE, started_at=at, status=status
    )
    scope, _ = Scope.objects.get_or_create(source=source, key="111111111111/us-east-1")
    scope_run = ScopeRun.objects.create(run=run, scope=scope, started_at=at)
    ingest = ScopeIngest(scope_run)
    for record in records:
        ingest.add(record)
    ingest.finish(complete=True)
    run.finished_at = at + timedelta(minutes=1)
    run.save()
    return run


@pytest.fixture
def channel(db):
    # These tests look at what is created; sending is test_notification_delivery's.
    return NotificationChannel.objects.create(
        name="hook", kind="webhook", url="http://127.0.0.1:9/", enabled=True
    )


@pytest.fixture(autouse=True)
def no_sending(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "queue_delivery", sent.append)
    return sent


@pytest.fixture
def teams(db):
    payments = Team.objects.create(name="Payments", slug="payments", contact="pay@example.com")
    search = Team.objects.create(name="Search", slug="search")
    OwnershipRule.objects.create(name="pay", team=payments, tag_key="team", tag_value="pay")
    OwnershipRule.objects.create(name="search", team=search, tag_key="team", tag_value="search")
    return payments, search


def rule(event, channel, **fields):
    return NotificationRule.objects.create(name=event, event=event, channel=channel, **fields)


def test_one_digest_per_rule_per_run_with_riskiest_first_and_a_link(
    source, channel, teams, django_capture_on_commit_callbacks, no_sending
):
    untracked = rule(Event.NEW_UNTRACKED, channel)
    records = [fn("quiet"), fn("open-one", endpoints=[OPEN]), fn("owned", labels={"team": "pay"})]
    run = collect(source, records)

    with django_capture_on_commit_callbacks(execute=True):
        created = events.notify_run(run)

    assert [d.rule for d in created] == [untracked]
    delivery = created[0]
    assert delivery.key == f"run:{run.pk}" and delivery.status == Delivery.Status.PENDING
    assert delivery.title == "2 new untracked assets in test-source"
    payload = delivery.payload
    assert [item["name"] for item in payload["items"]] == ["open-one", "quiet"]  # exposed first
    assert payload["items"][0]["url"].startswith("http://localhost:8000/assets/")
    assert payload["more"] == 0 and payload["source"] == "test-source"
    query = parse_qs(urlsplit(payload["link"]).query)
    assert query == {"tracking": ["untracked"], "source": ["test-source"], "sort": ["-first_seen"]}
    assert no_sending == [delivery.pk]  # queued once the transaction committed


def test_notifying_a_run_again_creates_nothing(source, channel):
    rule(Event.NEW_UNTRACKED, channel)
    run = collect(source, [fn("a")])
    assert len(events.notify_run(run)) == 1
    assert events.notify_run(run) == []
    assert Delivery.objects.count() == 1


def test_a_digest_names_a_few_and_counts_the_rest(source, channel, settings):
    settings.DAYLIGHT_NOTIFY_MAX_ITEMS = 2
    rule(Event.NEW_UNTRACKED, channel)
    run = collect(source, [fn(f"f{i}") for i in range(5)])

    (delivery,) = events.notify_run(run)
    assert delivery.payload["count"] == 5
    assert len(delivery.payload["items"]) == 2 and delivery.payload["more"] == 3


def test_a_rerun_of_an_unchanged_estate_says_nothing(source, channel):
    rule(Event.NEW_UNTRACKED, channel)
    rule(Event.EXPOSED, channel)
    collect(source, [fn("a", endpoints=[OPEN])])
    second = collect(source, [fn("a", endpoints=[OPEN])], at=NOW + timedelta(hours=1))
    assert events.notify_run(second) == []


def test_team_rules_hear_only_about_their_own_assets(source, channel, teams):
    payments, search = teams
    for_payments = rule(Event.EXPOSED, channel, team=payments)
    rule(Event.EXPOSED, channel, team=search)  # nothing of theirs became exposed
    everyone = rule(Event.EXPOSED, channel)
    run = collect(
        source,
        [
            fn("pay-api", labels={"team": "pay"}, endpoints=[IAM]),
            fn("shadow", endpoints=[IAM]),
            fn("pay-private", labels={"team": "pay"}),
        ],
    )

    created = {d.rule: d for d in events.notify_run(run)}
    assert set(created) == {for_payments, everyone}
    assert [i["name"] for i in created[for_payments].payload["items"]] == ["pay-api"]
    assert created[for_payments].payload["items"][0]["team"] == "Payments"
    assert "owner=payments" in created[for_payments].payload["link"]
    assert created[everyone].title == "2 assets became internet-exposed in test-source"


def test_an_asset_that_becomes_exposed_later_is_notified_then(source, channel):
    rule(Event.EXPOSED, channel)
    assert events.notify_run(collect(source, [fn("a")])) == []
    later = collect(source, [fn("a", endpoints=[IAM])], at=NOW + timedelta(hours=1))
    (delivery,) = events.notify_run(later)
    assert delivery.payload["items"][0]["name"] == "a"


def test_critical_findings_opened_by_the_run(source, channel, teams):
    payments, _ = teams
    rule(Event.CRITICAL_FINDING, channel, team=payments)
    run = collect(
        source,
        [
            fn("pay-open", labels={"team": "pay"}, endpoints=[OPEN]),
            fn("pay-iam", labels={"team": "pay"}, endpoints=[IAM]),  # medium only
            fn("other-open", endpoints=[OPEN]),  # not Payments'
        ],
    )
    (delivery,) = events.notify_run(run)
    assert delivery.title == "1 critical finding opened in test-source"
    (item,) = delivery.payload["items"]
    assert item["name"] == "pay-open"
    assert item["detail"].startswith("Unauthenticated internet endpoint")
    assert parse_qs(urlsplit(delivery.payload["link"]).query)["min_severity"] == ["4"]


def test_untracked_names_are_bounded_to_one_line(source, channel):
    rule(Event.NEW_UNTRACKED, channel)
    evil = "evil\nBcc: all@example.com " + "A" * 300
    run = collect(source, [asset("arn:aws:lambda:us-east-1:111111111111:function:x", name=evil)])
    (delivery,) = events.notify_run(run)
    name = delivery.payload["items"][0]["name"]
    assert "\n" not in name and len(name) == events.NAME_LIMIT and name.endswith("…")


def failed_run(source, at, status=RunStatus.FAILED):
    return CollectionRun.objects.create(
        source=source,
        started_at=at,
        finished_at=at + timedelta(minutes=1),
        status=status,
        error="acct/us-east-1: AccessDenied: not allowed\nmore",
    )


def test_a_failing_source_is_said_once_when_the_streak_reaches_n(source, channel):
    three = rule(Event.SOURCE_FAILING, channel, failing_runs=3)
    two = rule(Event.SOURCE_FAILING, channel, failing_runs=2)
    outcomes = []
    statuses = [RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.FAILED]
    for hour, status in enumerate(statuses):
        run = failed_run(source, NOW + timedelta(hours=hour), status)
        outcomes.append([d.rule for d in events.notify_run(run)])
    assert outcomes == [[], [two], [three], []]

    delivery = Delivery.objects.get(rule=three)
    assert delivery.title == "Source test-source failed 3 runs in a row"
    assert delivery.payload["items"][0]["detail"] == (
        "Failed: acct/us-east-1: AccessDenied: not allowed"
    )


def test_a_success_starts_the_count_again(source, channel):
    rule(Event.SOURCE_FAILING, channel, failing_runs=2)
    failed_run(source, NOW)
    CollectionRun.objects.create(
        source=source, started_at=NOW + timedelta(hours=1), status="succeeded"
    )
    failed_run(source, NOW + timedelta(hours=2), RunStatus.SKIPPED)  # skipped runs don't count
    assert events.notify_run(failed_run(source, NOW + timedelta(hours=3))) == []
    assert len(events.notify_run(failed_run(source, NOW + timedelta(hours=4)))) == 1


def test_expired_accepted_risks_are_notified_after_the_expiry_commits(
    source, channel, teams, admin_user, django_capture_on_commit_callbacks
):
    _, search = teams
    everyone = rule(Event.RISK_EXPIRED, channel)
    for_search = rule(Event.RISK_EXPIRED, channel, team=search)
    collect(source, [fn("a"), fn("b", labels={"team": "pay"})])
    a, b = (source.assets.get(name=n) for n in "ab")
    soon = timezone.now() + timedelta(days=1)
    services.accept_risk([a], admin_user, "Pen test until Friday", expires_at=soon, team=search)
    services.accept_risk([b], admin_user, "Vendor box", expires_at=soon)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_decisions(now=soon + timedelta(seconds=1)) == 2

    by_rule = {d.rule: d for d in Delivery.objects.all()}
    assert set(by_rule) == {everyone, for_search}
    assert by_rule[everyone].title == "2 accepted risks expired"
    assert [i["name"] for i in by_rule[for_search].payload["items"]] == ["a"]
    assert by_rule[for_search].payload["items"][0]["detail"] == "Accepted: Pen test until Friday"


def test_disabled_rules_and_channels_stay_quiet(source, channel):
    rule(Event.NEW_UNTRACKED, channel, enabled=False)
    muted = NotificationChannel.objects.create(
        name="muted", kind="webhook", url="http://127.0.0.1:9/", enabled=False
    )
    rule(Event.NEW_UNTRACKED, muted)
    assert events.notify_run(collect(source, [fn("a")])) == []
