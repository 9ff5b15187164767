"""A whole collection: scopes, failures, run records, cursor."""

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from collectors import base
from collectors.base import Collector, CollectorError, SourceSettings
from collectors.kubernetes.collector import KubernetesCollector
from collectors.records import Cursor, ScopeSpec
from collectors.runner import run_source, scope_workers
from inventory.models import Asset, RunStatus, Scope, Source
from tests.conftest import NOW, asset

pytestmark = pytest.mark.django_db


class ScriptedCollector(Collector):
    """A provider whose scopes behave as its source config scripts them."""

    provider = "scripted"
    optional_config = ("scopes",)

    def scopes(self):
        if self.source.config.get("scopes") == "boom":
            raise CollectorError("scripted:ListAccounts", "AccessDenied")
        return [ScopeSpec(key) for key in self.source.config["scopes"]]

    def collect(self, scope, cursor) -> Iterator:
        plan = self.source.config["scopes"][scope.key]
        yield from (asset(f"arn:{scope.key}:{name}") for name in plan.get("assets", []))
        if plan.get("fail"):
            raise CollectorError(f"scripted:List {scope.key}", "Throttling: rate exceeded")
        yield Cursor({"seen_cursor": cursor.get("seen_cursor", 0) + 1})


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setitem(base.PROVIDERS, "scripted", f"{__name__}:ScriptedCollector")

    def make(scopes):
        source, _ = Source.objects.update_or_create(
            name="scripted", defaults={"provider": "scripted", "config": {"scopes": scopes}}
        )
        return source

    return make


def test_a_failing_scope_is_recorded_and_leaves_its_assets_alone(scripted):
    run_source(scripted({"east": {"assets": ["a1", "a2"]}, "west": {"assets": ["w1"]}}))
    run = run_source(scripted({"east": {"assets": ["a1"], "fail": True}, "west": {"assets": []}}))

    assert run.status == RunStatus.PARTIAL
    east, west = run.scope_runs.order_by("scope__key")
    assert east.status == RunStatus.FAILED and "Throttling" in east.error and not east.complete
    assert west.status == RunStatus.SUCCEEDED and west.gone == 1
    assert "east: CollectorError: scripted:List east" in run.error
    # east failed partway: nothing of east is gone, west's missing asset is.
    alive = Asset.objects.filter(gone_at__isnull=True).values_list("name", flat=True)
    assert set(alive) == {"a1", "a2"}


def test_run_counts_add_up_and_cursor_is_kept_only_on_success(scripted):
    run = run_source(scripted({"east": {"assets": ["a", "b"]}, "west": {"assets": ["c"]}}))
    assert run.status == RunStatus.SUCCEEDED and (run.seen, run.new) == (3, 3)
    assert Scope.objects.get(key="east").cursor == {"seen_cursor": 1}

    run_source(scripted({"east": {"assets": ["a", "b"], "fail": True}, "west": {"assets": ["c"]}}))
    east = Scope.objects.get(key="east")
    assert east.cursor == {"seen_cursor": 1} and east.last_status == RunStatus.FAILED
    assert Scope.objects.get(key="west").cursor == {"seen_cursor": 2}


def test_scope_listing_failure_fails_the_run_and_touches_nothing(scripted):
    run_source(scripted({"east": {"assets": ["a"]}}))
    run = run_source(scripted("boom"))

    assert run.status == RunStatus.FAILED and "AccessDenied" in run.error
    assert Asset.objects.get().gone_at is None


def test_unknown_provider_is_a_failed_run(db):
    source = Source(name="odd", provider="nope")
    Source.objects.bulk_create([source])  # bypass validation, as a stale database row would
    run = run_source(Source.objects.get(name="odd"))
    assert run.status == RunStatus.FAILED and "unknown provider 'nope'" in run.error


# --- scopes read at once ------------------------------------------------------------------------


class MeetingCollector(Collector):
    """Scopes that yield their assets, then wait at ``MEETING`` for as many other scopes as it
    has parties: a run only gets past it if that many scopes are being read at the same time.
    A scope whose plan says ``fail`` fails after the meeting; ``records`` counts what each
    scope yielded, ``active``/``most_active`` how many were being read at once."""

    provider = "meeting"
    optional_config = ("scopes",)
    MEETING: threading.Barrier | None = None
    lock = threading.Lock()
    active = 0
    most_active = 0
    records: Counter = Counter()

    def scopes(self):
        return [ScopeSpec(key) for key in self.source.config["scopes"]]

    def collect(self, scope, cursor) -> Iterator:
        plan = self.source.config["scopes"][scope.key]
        self._enter()
        try:
            for name in plan.get("assets", []):
                self.records[scope.key] += 1
                yield asset(f"arn:{scope.key}:{name}")
            if plan.get("meet", True):
                self.MEETING.wait()
            if plan.get("fail"):
                raise CollectorError(f"meeting:List {scope.key}", "AccessDenied")
            yield Cursor({"read": True})
        finally:
            self._leave()

    @classmethod
    def _enter(cls):
        with cls.lock:
            cls.active += 1
            cls.most_active = max(cls.most_active, cls.active)

    @classmethod
    def _leave(cls):
        with cls.lock:
            cls.active -= 1


@pytest.fixture
def meeting(monkeypatch):
    """``meeting(parties, scopes)`` -> a Source of MeetingCollector scopes."""
    monkeypatch.setitem(base.PROVIDERS, "meeting", f"{__name__}:MeetingCollector")
    monkeypatch.setattr(MeetingCollector, "records", Counter())
    monkeypatch.setattr(MeetingCollector, "most_active", 0)

    def make(parties, scopes):
        # A generous timeout only so that a broken runner fails the test instead of hanging it.
        monkeypatch.setattr(MeetingCollector, "MEETING", threading.Barrier(parties, timeout=30))
        source, _ = Source.objects.update_or_create(
            name="meeting", defaults={"provider": "meeting", "config": {"scopes": scopes}}
        )
        return source

    return make


def test_scopes_are_read_at_the_same_time(meeting):
    source = meeting(3, {key: {"assets": [f"{key}-fn"]} for key in ("a", "b", "c")})

    run = run_source(source, concurrency=3)

    # Each scope waited for the other two: had they been read one by one, none would pass.
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.seen, run.new) == (3, 3)
    assert all(s.complete for s in run.scope_runs.all())
    assert [c for c in Scope.objects.values_list("cursor", flat=True)] == [{"read": True}] * 3


def test_no_more_scopes_than_the_bound_are_read_at_once(meeting, settings):
    settings.DAYLIGHT_SCOPE_CONCURRENCY = 2
    source = meeting(2, {key: {"assets": [f"{key}-fn"]} for key in ("a", "b", "c", "d")})

    run = run_source(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert MeetingCollector.most_active == 2
    assert run.seen == 4


def test_a_failing_scope_among_concurrent_ones_touches_only_its_own(meeting):
    first = {
        "a": {"assets": ["a1", "a2"]},
        "b": {"assets": ["b1", "b2"]},
        "c": {"assets": ["c1", "c2"]},
    }
    assert run_source(meeting(3, first), concurrency=3).status == RunStatus.SUCCEEDED

    second = {
        "a": {"assets": ["a1"]},
        "b": {"assets": ["b1", "b2", "b3"]},
        "c": {"assets": ["c1"], "fail": True},  # fails while the other two are being read
    }
    run = run_source(meeting(3, second), concurrency=3)

    assert run.status == RunStatus.PARTIAL
    by_key = {s.scope.key: s for s in run.scope_runs.select_related("scope")}
    assert by_key["c"].status == RunStatus.FAILED and "AccessDenied" in by_key["c"].error
    assert by_key["a"].status == by_key["b"].status == RunStatus.SUCCEEDED
    assert (by_key["a"].gone, by_key["b"].new, by_key["c"].gone) == (1, 1, 0)
    assert (run.seen, run.new, run.gone) == (5, 1, 1)  # the totals are the scopes' sums
    assert run.error == "c: CollectorError: meeting:List c: AccessDenied"
    alive = set(Asset.objects.filter(gone_at__isnull=True).values_list("name", flat=True))
    assert alive == {"a1", "b1", "b2", "b3", "c1", "c2"}  # c2 unseen, but c failed: kept


def test_a_scope_streams_many_records_in_order(meeting):
    names = [f"fn{i}" for i in range(450)]  # more than one chunk
    source = meeting(1, {"a": {"assets": names}})

    run = run_source(source, concurrency=4)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.seen == run.new == 450
    assert Scope.objects.get(key="a").cursor == {"read": True}  # the last record came last


def test_an_error_in_the_ingesting_thread_stops_the_readers(meeting):
    many = [f"fn{i}" for i in range(5000)]
    source = meeting(
        1,
        {
            "quick": {"assets": ["q1"], "meet": False},
            "slow1": {"assets": many, "meet": False},
            "slow2": {"assets": many, "meet": False},
        },
    )

    def explode(scope_run):
        raise RuntimeError(f"reporting {scope_run.scope.key} failed")

    with pytest.raises(RuntimeError, match="reporting"):
        run_source(source, concurrency=3, on_scope=explode)

    # The readers were told to stop instead of being left blocked on a full queue.
    assert MeetingCollector.active == 0
    assert sum(MeetingCollector.records.values()) < 1 + 2 * len(many)


def test_scopes_that_depend_on_each_other_are_read_one_by_one(settings):
    settings.DAYLIGHT_SCOPE_CONCURRENCY = 8
    source = SourceSettings("k", "kubernetes")
    assert scope_workers(KubernetesCollector(source, NOW), 2) == 1
    assert scope_workers(ScriptedCollector(SourceSettings("s", "scripted"), NOW), 3) == 3
    assert scope_workers(ScriptedCollector(SourceSettings("s", "scripted"), NOW), 30) == 8
    assert scope_workers(ScriptedCollector(SourceSettings("s", "scripted"), NOW), 30, 1) == 1
