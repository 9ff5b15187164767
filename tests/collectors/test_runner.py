"""A whole collection: scopes, failures, run records, cursor."""

from collections.abc import Iterator

import pytest

from collectors import base
from collectors.base import Collector, CollectorError
from collectors.records import Cursor, ScopeSpec
from collectors.runner import run_source
from inventory.models import Asset, RunStatus, Scope, Source
from tests.conftest import asset

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
