"""The shared ingest path, against the real database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collectors.records import AccessRecord, Cursor, Endpoint
from inventory.ingest import ScopeIngest
from inventory.models import (
    AccessEvent,
    Asset,
    AssetChange,
    Finding,
    FindingStatus,
    OwnershipRule,
    Team,
    TrackingStatus,
)
from tests.conftest import NOW, asset

pytestmark = pytest.mark.django_db
LATER = NOW + timedelta(hours=1)


def ingest(scope_run, records, *, complete=True, batch_size=None):
    session = ScopeIngest(scope_run, batch_size=batch_size)
    for record in records:
        session.add(record)
    session.finish(complete=complete)
    return session


def fn(name, **fields):
    return asset(f"arn:aws:lambda:us-east-1:111111111111:function:{name}", **fields)


def snapshot():
    return (
        list(Asset.objects.order_by("pk").values()),
        AssetChange.objects.count(),
        list(Finding.objects.order_by("pk").values()),
    )


def test_first_ingest_creates_assets_with_history_and_findings(scope_run):
    run = scope_run()
    session = ingest(run, [fn("a", runtime="python3.8"), fn("b", runtime="python3.12")])

    assert session.counts["new"] == 2 and session.counts["seen"] == 2
    a = Asset.objects.get(name="a")
    assert a.first_seen == NOW and a.gone_at is None and a.scope == run.scope
    assert a.tracking == TrackingStatus.UNTRACKED
    assert a.eol is True
    assert set(a.changes.values_list("field", "new")) == {
        ("lifecycle", "discovered"),
        ("tracking", "untracked"),
    }
    assert Finding.objects.get(asset=a, rule="runtime-eol").status == FindingStatus.OPEN
    assert not Asset.objects.get(name="b").eol


def row_versions():
    """PostgreSQL's xmin of every asset row: it changes whenever a row is rewritten."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text FROM inventory_asset ORDER BY id")
        return cursor.fetchall()


def test_reingesting_the_same_records_writes_nothing(scope_run):
    records = [
        fn("a", runtime="python3.8", labels={"team": "x"}),
        fn("b", endpoints=[Endpoint("https://b", True, "none")]),
    ]
    ingest(scope_run(), records)
    before = snapshot()
    versions = row_versions() if connection.vendor == "postgresql" else None
    run = scope_run(at=LATER)

    with CaptureQueriesContext(connection) as queries:
        session = ingest(run, records)

    assert snapshot() == before
    assert session.counts["new"] == session.counts["changed"] == session.counts["gone"] == 0
    statements = [q["sql"] for q in queries.captured_queries]
    inserts = [sql for sql in statements if sql.lstrip().upper().startswith("INSERT")]
    # Only the two linking statements may run, and they touch only rows still unlinked.
    updates = [
        sql
        for sql in statements
        if sql.lstrip().upper().startswith("UPDATE")
        and '"parent_id" IS NULL' not in sql
        and '"asset_id" IS NULL' not in sql
    ]
    assert inserts == [] and updates == []
    if versions is not None:
        assert row_versions() == versions


def test_durable_change_is_recorded_field_by_field(scope_run):
    ingest(scope_run(), [fn("a", image="repo/app:1.0", runtime="python3.11")])
    session = ingest(scope_run(at=LATER), [fn("a", image="repo/app:2.0", runtime="python3.12")])

    assert session.counts["changed"] == 1
    a = Asset.objects.get(name="a")
    assert a.image == "repo/app:2.0" and a.last_changed == LATER and a.first_seen == NOW
    changes = {c.field: (c.old, c.new) for c in a.changes.filter(at=LATER)}
    assert changes == {
        "image": ("repo/app:1.0", "repo/app:2.0"),
        "runtime": ("python3.11", "python3.12"),
    }


def test_volatile_change_updates_in_place_without_history(scope_run):
    ingest(scope_run(), [fn("a", state="running", observed={"restarts": 1})])
    ingest(scope_run(at=LATER), [fn("a", state="stopped", observed={"restarts": 5})])

    a = Asset.objects.get(name="a")
    assert a.state == "stopped" and a.observed == {"restarts": 5}
    assert a.last_changed == NOW
    assert not a.changes.filter(at=LATER).exists()


def test_complete_scope_marks_missing_assets_gone(scope_run):
    ingest(scope_run(), [fn("a", endpoints=[Endpoint("https://a", True, "none")]), fn("b")])
    session = ingest(scope_run(at=LATER), [fn("b")])

    assert session.counts["gone"] == 1
    a = Asset.objects.get(name="a")
    assert a.gone_at == LATER and not a.exposed
    assert a.changes.filter(field="lifecycle", new="gone", at=LATER).exists()
    assert not a.findings.filter(status=FindingStatus.OPEN).exists()
    assert Asset.objects.get(name="b").gone_at is None


def test_stored_assets_are_read_in_pages_that_together_cover_the_scope(scope_run, monkeypatch):
    monkeypatch.setattr("inventory.ingest.DIGEST_PAGE", 3)
    names = [f"f{i}" for i in range(7)]
    ingest(scope_run(), [fn(name) for name in names])

    # Everything kept and unchanged across three pages (3 + 3 + 1) but f4, which went.
    with CaptureQueriesContext(connection) as captured:
        session = ingest(scope_run(at=LATER), [fn(n) for n in names if n != "f4"])

    assert session.counts == {"seen": 6, "gone": 1}
    assert list(Asset.objects.filter(gone_at=LATER).values_list("name", flat=True)) == ["f4"]
    pages = [q["sql"] for q in captured.captured_queries if '"durable_hash"' in q["sql"]]
    assert len(pages) == 3


def test_incomplete_scope_marks_nothing_gone(scope_run):
    ingest(scope_run(), [fn("a"), fn("b")])
    session = ingest(scope_run(at=LATER), [fn("b")], complete=False)

    assert session.counts["gone"] == 0
    assert Asset.objects.filter(gone_at__isnull=True).count() == 2


def test_gone_marking_never_touches_another_scope(scope_run):
    ingest(scope_run("111111111111/us-east-1"), [fn("east")])
    west = asset("arn:aws:lambda:eu-west-1:111111111111:function:west", region="eu-west-1")
    ingest(scope_run("111111111111/eu-west-1"), [west])

    ingest(scope_run("111111111111/us-east-1", at=LATER), [])

    assert Asset.objects.get(name="east").gone_at == LATER
    assert Asset.objects.get(name="west").gone_at is None


def test_a_gone_asset_that_returns_reappears(scope_run):
    ingest(scope_run(), [fn("a")])
    ingest(scope_run(at=LATER), [])
    later_still = LATER + timedelta(hours=1)
    session = ingest(scope_run(at=later_still), [fn("a")])

    a = Asset.objects.get(name="a")
    assert a.gone_at is None and session.counts["changed"] == 1
    assert a.changes.filter(field="lifecycle", old="gone", new="reappeared").exists()


def test_findings_resolve_when_the_condition_goes_away(scope_run):
    public = fn("a", endpoints=[Endpoint("https://a.example", True, "none", "function URL")])
    ingest(scope_run(), [public])
    a = Asset.objects.get(name="a")
    assert a.exposed and a.findings.get(rule="unauthenticated-endpoint").status == "open"

    ingest(scope_run(at=LATER), [replace(public, endpoints=[])])

    a.refresh_from_db()
    finding = a.findings.get(rule="unauthenticated-endpoint")
    assert (
        not a.exposed and finding.status == FindingStatus.RESOLVED and finding.resolved_at == LATER
    )
    assert a.changes.filter(field="exposed", old=True, new=False).exists()


def test_ownership_rules_apply_in_order_and_set_tracking(scope_run):
    payments = Team.objects.create(name="Payments", slug="payments")
    platform = Team.objects.create(name="Platform", slug="platform")
    OwnershipRule.objects.create(
        position=10, name="team tag", team=payments, tag_key="team", tag_value="pay"
    )
    OwnershipRule.objects.create(position=20, name="ci names", team=platform, name_pattern="ci-*")
    OwnershipRule.objects.create(
        position=30, name="everything tagged", team=platform, tag_key="team"
    )

    ingest(
        scope_run(),
        [
            fn("ci-runner", labels={"team": "pay"}),
            fn("ci-builder"),
            fn("other", labels={"team": "unknown"}),
            fn("shadow"),
        ],
    )

    owners = dict(Asset.objects.values_list("name", "owner__slug"))
    assert owners == {
        "ci-runner": "payments",
        "ci-builder": "platform",
        "other": "platform",
        "shadow": None,
    }
    assert Asset.objects.get(name="shadow").tracking == TrackingStatus.UNTRACKED
    assert Asset.objects.get(name="ci-runner").owner_basis == "rule"


def test_tag_change_moves_ownership_and_records_it(scope_run):
    team = Team.objects.create(name="Payments", slug="payments")
    OwnershipRule.objects.create(name="tag", team=team, tag_key="team", tag_value="payments")
    ingest(scope_run(), [fn("a")])
    ingest(scope_run(at=LATER), [fn("a", labels={"team": "payments"})])

    a = Asset.objects.get(name="a")
    assert a.owner == team and a.tracking == TrackingStatus.TRACKED
    assert a.changes.filter(field="owner", old__isnull=True, new="Payments").exists()
    assert a.changes.filter(field="tracking", old="untracked", new="tracked").exists()


def test_access_events_are_deduplicated_and_linked_to_assets(scope_run, source):
    when = datetime(2026, 10, 1, tzinfo=UTC)
    event = AccessRecord(
        event_id="evt-1",
        provider="aws",
        occurred_at=when,
        action="CreateFunction",
        asset_key="arn:aws:lambda:us-east-1:111111111111:function:a",
        actor="alice",
    )
    # The event arrives in a batch before its asset exists: it is linked once the asset does.
    session = ingest(scope_run(), [event, fn("a")], batch_size=1)
    assert session.counts["events"] == 1
    assert AccessEvent.objects.get().asset == Asset.objects.get(name="a")

    session = ingest(scope_run(at=LATER), [event, event, fn("a")])
    assert session.counts["events"] == 0
    assert AccessEvent.objects.count() == 1


def test_children_are_linked_to_parents_that_arrive_later(scope_run):
    cluster = asset("arn:aws:ecs:us-east-1:1:cluster/prod", kind="cluster")
    service = asset(
        "arn:aws:ecs:us-east-1:1:service/prod/web", kind="workload", parent_key=cluster.key
    )
    ingest(scope_run(), [service, cluster], batch_size=1)

    assert Asset.objects.get(key=service.key).parent == Asset.objects.get(key=cluster.key)


def test_rejected_records_are_reported_and_block_gone_marking(scope_run):
    ingest(scope_run(), [fn("a"), fn("b")])
    session = ingest(scope_run(at=LATER), [fn("a"), replace(fn("b"), key="  "), "not a record"])

    assert session.counts["invalid"] == 2
    assert any("without a key" in e for e in session.errors)
    assert any("unknown record type" in e for e in session.errors)
    assert Asset.objects.get(name="b").gone_at is None


def test_cursor_is_kept_for_the_runner(scope_run):
    session = ingest(scope_run(), [fn("a"), Cursor({"since": "2026-11-01"})])
    assert session.cursor == {"since": "2026-11-01"}


def test_an_asset_can_move_between_scopes(scope_run):
    ingest(scope_run("old"), [fn("a")])
    ingest(scope_run("new", at=LATER), [fn("a")])
    ingest(scope_run("old", at=LATER), [])

    a = Asset.objects.get(name="a")
    assert a.scope.key == "new" and a.gone_at is None


def test_hostile_tags_are_stored_intact_and_bounded(scope_run):
    labels = {
        "<script>alert(1)</script>": '"><img src=x onerror=alert(1)>',
        "emoji-🚀-ключ": "値\u202e reversed",
        "nul": "a\x00b",
        "huge": "x" * 10_000,
    }
    hostile = asset(
        "arn:aws:lambda:us-east-1:111111111111:function:a", name="<b>bold</b>", labels=labels
    )
    ingest(scope_run(), [hostile])

    stored = Asset.objects.get(key__endswith=":a").labels
    assert stored["<script>alert(1)</script>"] == '"><img src=x onerror=alert(1)>'
    assert stored["emoji-🚀-ключ"] == "値\u202e reversed"
    assert stored["nul"] == "a\ufffdb"
    assert len(stored["huge"]) == 4096 and stored["huge"].endswith("…")
    assert Asset.objects.filter(name="<b>bold</b>").exists()


def test_query_count_per_batch_does_not_grow_with_the_batch(scope_run):
    def queries_for(count, run):
        records = [fn(f"f{run.pk}-{i}", runtime="python3.8") for i in range(count)]
        with CaptureQueriesContext(connection) as captured:
            ingest(run, records, batch_size=1000)
        return len(captured.captured_queries)

    small, large = queries_for(5, scope_run("s1")), queries_for(200, scope_run("s2"))
    if connection.vendor == "postgresql":
        assert small == large
    else:  # SQLite caps parameters per statement (999), so Django splits the bulk writes
        assert large - small <= 200 // 20


def test_events_outside_a_collection_are_stored_once_and_malformed_ones_refused(source):
    from inventory.ingest import record_events

    when = datetime(2026, 10, 1, tzinfo=UTC)
    good = AccessRecord(event_id="wh-1", provider="kubernetes", occurred_at=when, action="create")
    bad = AccessRecord(event_id="", provider="kubernetes", occurred_at=when, action="create")

    assert record_events(source, [good, bad]) == (1, ["access event without an event id"])
    assert record_events(source, [good]) == (0, [])
    assert AccessEvent.objects.get().event_id == "wh-1"
