"""The demo estate: seeded, spanning all five providers, evolving, through the real path."""

from datetime import UTC, date, datetime, timedelta

import pytest

from collectors.base import SourceSettings
from collectors.demo import DemoCollector
from collectors.records import AccessRecord, DiscoveredAsset
from collectors.runner import run_source
from inventory.models import AccessEvent, Asset, AssetChange, RunStatus, Source

EPOCH = date(2026, 8, 1)
CONFIG = {"seed": 3, "scale": 1, "epoch": EPOCH.isoformat()}


def day(n):
    return datetime.combine(EPOCH + timedelta(days=n), datetime.min.time(), tzinfo=UTC).replace(
        hour=6
    )


def records(config, on_day):
    collector = DemoCollector(SourceSettings("demo", "demo", config), day(on_day))
    return [r for spec in collector.scopes() for r in collector.collect(spec, {})]


def test_the_estate_is_deterministic_and_spans_every_provider():
    first, second = records(CONFIG, 90), records(CONFIG, 90)
    assets = [r for r in first if isinstance(r, DiscoveredAsset)]
    assert [a.key for a in assets] == [a.key for a in second if isinstance(a, DiscoveredAsset)]
    assert {a.provider for a in assets} == {"aws", "gcp", "azure", "kubernetes", "docker"}
    assert {a.kind for a in assets} >= {
        "function",
        "container",
        "workload",
        "cluster",
        "docker_host",
    }
    assert len({a.key for a in assets}) == len(assets)
    assert any(isinstance(r, AccessRecord) for r in first)


def test_the_estate_evolves_over_time():
    early = {r.key: r for r in records(CONFIG, 5) if isinstance(r, DiscoveredAsset)}
    late = {r.key: r for r in records(CONFIG, 90) if isinstance(r, DiscoveredAsset)}
    assert set(late) - set(early), "new assets appear"
    assert set(early) - set(late), "some assets go away"
    assert any(early[k] != late[k] for k in set(early) & set(late)), "some assets change"


@pytest.mark.django_db
def test_demo_collection_goes_through_ingest_and_is_idempotent():
    source = Source.objects.create(name="demo", provider="demo", config=CONFIG)
    for n in (0, 30, 60, 90):
        run = run_source(source, at=day(n))
        assert run.status == RunStatus.SUCCEEDED, run.error

    kinds = set(Asset.objects.values_list("provider", flat=True))
    assert kinds == {"aws", "gcp", "azure", "kubernetes", "docker"}
    assert Asset.objects.filter(gone_at__isnull=False).exists()
    assert (
        AssetChange.objects.filter(field="image").exists()
        or AssetChange.objects.filter(field="runtime").exists()
    )
    assert Asset.objects.filter(exposed=True).exists() and Asset.objects.filter(eol=True).exists()
    assert AccessEvent.objects.filter(asset__isnull=False).exists()
    assert Asset.objects.exclude(parent=None).filter(kind="container").exists()

    counts = (Asset.objects.count(), AssetChange.objects.count(), AccessEvent.objects.count())
    again = run_source(source, at=day(90) + timedelta(hours=1))
    assert (again.new, again.changed, again.gone, again.events) == (0, 0, 0, 0)
    assert (
        Asset.objects.count(),
        AssetChange.objects.count(),
        AccessEvent.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_a_simulated_failing_scope_keeps_its_assets():
    source = Source.objects.create(name="demo", provider="demo", config=CONFIG)
    run_source(source, at=day(10))
    failing = "docker/lab-gpu-02.corp.example"
    alive_before = Asset.objects.filter(scope__key=failing, gone_at__isnull=True).count()
    source.config = {**CONFIG, "fail_scopes": [failing]}
    source.save()

    run = run_source(source, at=day(11))

    assert run.status == RunStatus.PARTIAL and "AccessDenied" in run.error
    assert (
        Asset.objects.filter(scope__key=failing, gone_at__isnull=True).count() == alive_before > 0
    )
