"""An estate of any size for the dashboard tests, collected through the real runner and ingest
path by a provider whose shape its source's config describes."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache

from collectors import base
from collectors.base import Collector, CollectorError
from collectors.records import AccessRecord, Cursor, DiscoveredAsset, Endpoint, ScopeSpec
from collectors.runner import run_source
from inventory.models import OwnershipRule, Source, Team
from tests.conftest import NOW
from tests.inventory.receivers import http_receiver, tasks_in_process  # noqa: F401 (fixtures)


class EstateCollector(Collector):
    """Per scope: one cluster and ``assets`` functions under it. Every second function carries
    the owner tag, every third answers the internet without authentication, every fourth runs an
    end-of-life runtime; each has an audit event. ``release`` goes into every image, so raising
    it between runs writes history. A scope listed in ``fail`` raises after its first page."""

    provider = "estate"
    optional_config = ("scopes", "release", "fail")

    def scopes(self):
        return [ScopeSpec(key, {"assets": n}) for key, n in self.source.config["scopes"].items()]

    def collect(self, scope, cursor) -> Iterator:
        release = self.source.config.get("release", 1)
        cluster_key = f"cluster://{scope.key}"
        yield DiscoveredAsset(
            key=cluster_key,
            provider="kubernetes",
            kind="cluster",
            name=f"cluster-{scope.key}",
            account=scope.key,
            platform_version="1.31.2",
            labels={"team": "payments"},
        )
        for index in range(scope.params["assets"]):
            key = f"fn://{scope.key}/{index}"
            yield DiscoveredAsset(
                key=key,
                provider="aws",
                kind="function",
                name=f"fn-{index:04d}",
                account=scope.key,
                region="us-east-1",
                parent_key=cluster_key,
                labels={"team": "payments"} if index % 2 == 0 else {"purpose": "adhoc"},
                runtime="nodejs14.x" if index % 4 == 0 else "python3.12",
                image=f"registry.internal.example/fn:{release}",
                endpoints=[Endpoint(f"https://{index}.example", True, "none", "function-url")]
                if index % 3 == 0
                else [],
            )
            yield AccessRecord(
                event_id=f"{key}|{release}",
                provider="aws",
                occurred_at=self.now - timedelta(minutes=index),
                action="UpdateFunctionCode",
                asset_key=key,
                actor=f"deployer-{index}@example.com",
                source_ip="198.51.100.7",
            )
            if index == 0 and scope.key in self.source.config.get("fail", []):
                raise CollectorError(f"estate:List {scope.key}", "AccessDenied (simulated)")
        yield Cursor({"release": release})


@pytest.fixture
def payments(db):
    """The team that the ``team: payments`` tag assigns assets to."""
    team = Team.objects.create(name="Payments", slug="payments", contact="#payments")
    OwnershipRule.objects.create(
        name="payments tag", team=team, tag_key="team", tag_value="payments"
    )
    return team


@pytest.fixture
def estate(db, monkeypatch, payments):
    """A factory: collect a source named ``name`` with ``{scope key: function count}``.

    Collecting the same name again with a higher ``release`` changes every image (history) and
    can make scopes fail; returns the CollectionRun."""
    monkeypatch.setitem(base.PROVIDERS, "estate", f"{__name__}:EstateCollector")

    def collect(name, scopes, *, release=1, fail=(), at=NOW):
        source, _ = Source.objects.get_or_create(name=name, defaults={"provider": "estate"})
        source.config = {"scopes": scopes, "release": release, "fail": list(fail)}
        source.save()
        return run_source(source, at=at)

    return collect


@pytest.fixture(autouse=True)
def fresh_rollups():
    """Estate-wide figures are cached by a stamp of the data; a test database reuses ids, so
    every test starts with an empty cache (the tests also prove the stamp moves on writes)."""
    cache.clear()
    yield
    cache.clear()
