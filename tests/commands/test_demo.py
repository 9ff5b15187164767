"""``manage.py demo``: the demo estate, loaded through the real collector path."""

from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from inventory.models import (
    Asset,
    AssetChange,
    AuditLog,
    CollectionRun,
    OwnershipRule,
    RunStatus,
    ScopeRun,
    Source,
    Team,
    TrackingStatus,
)

pytestmark = pytest.mark.django_db
DAYS = 3
LAB_SCOPE = "docker/lab-gpu-02.corp.example"


def demo(**options) -> str:
    out = StringIO()
    call_command("demo", stdout=out, **{"days": DAYS, "scale": 1, "seed": 7, **options})
    return out.getvalue()


def snapshot():
    return {
        "teams": Team.objects.count(),
        "rules": OwnershipRule.objects.count(),
        "sources": Source.objects.count(),
        "assets": Asset.objects.count(),
    }


def test_demo_builds_teams_rules_sources_and_history():
    output = demo()

    assert dict(Team.objects.values_list("slug", "name")) == {
        "payments": "Payments",
        "platform": "Platform",
        "data-science": "Data Science",
        "identity": "Identity",
        "marketing": "Marketing",
        "security": "Security",
    }
    rules = {
        (r.team.slug, r.provider, r.tag_key, r.tag_value, r.account, r.namespace)
        for r in OwnershipRule.objects.select_related("team")
    }
    for slug in ("payments", "platform", "data-science", "identity", "marketing"):
        assert (slug, "", "team", slug, "", "") in rules
        assert (slug, "", "", "", "", f"rg-{slug}") in rules
    for slug in ("payments", "platform", "identity"):
        assert (slug, "", "", "", "", slug) in rules
    assert ("platform", "", "", "", "build-01.corp.example", "") in rules
    assert ("platform", "kubernetes", "", "", "", "kube-system") in rules
    assert len(rules) == 15
    assert AuditLog.objects.filter(action="rule.create").count() == 15

    epoch = timezone.now().date() - timedelta(days=DAYS)
    estate = Source.objects.get(name="demo-estate")
    settings = {"seed": 7, "scale": 1, "epoch": epoch.isoformat()}
    assert estate.provider == "demo"
    assert {k: v for k, v in estate.config.items() if k != "scopes"} == settings
    assert LAB_SCOPE not in estate.config["scopes"] and len(estate.config["scopes"]) == 8
    runs = list(estate.runs.order_by("started_at"))
    backfill = [datetime.combine(epoch + timedelta(days=d), time(6), UTC) for d in range(DAYS)]
    assert [run.started_at.replace(microsecond=0) for run in runs[:DAYS]] == backfill
    assert len(runs) == DAYS + 1
    assert runs[-1].started_at > timezone.now() - timedelta(minutes=5)
    assert all(run.status == RunStatus.SUCCEEDED for run in runs)

    lab = Source.objects.get(name="demo-lab")
    assert lab.config == {**settings, "scopes": [LAB_SCOPE], "fail_scopes": [LAB_SCOPE]}
    lab_runs = list(lab.runs.order_by("started_at"))
    assert [r.status for r in lab_runs] == [RunStatus.SUCCEEDED] * DAYS + [RunStatus.FAILED]
    [failed] = ScopeRun.objects.filter(run=lab_runs[-1])
    assert failed.scope.key == LAB_SCOPE and "AccessDenied" in failed.error
    # The lab's last collection failed: its assets are kept, not marked gone.
    assert Asset.objects.filter(source=lab, gone_at__isnull=True).exists()

    # Owners come from the rules, as they would from production collections.
    tagged = Asset.objects.filter(labels__team="payments", gone_at__isnull=True)
    assert tagged.exists()
    assert set(tagged.values_list("owner__slug", "tracking")) == {
        ("payments", TrackingStatus.TRACKED)
    }
    assert Asset.objects.filter(tracking=TrackingStatus.UNTRACKED).exists()
    assert "Demo estate ready in" in output


def test_running_demo_again_only_collects_once_more():
    demo()
    before = snapshot()
    estate_runs = CollectionRun.objects.filter(source__name="demo-estate").count()

    output = demo(seed=99)

    assert snapshot() == before
    assert CollectionRun.objects.filter(source__name="demo-estate").count() == estate_runs + 1
    assert Source.objects.get(name="demo-estate").config["seed"] == 7
    assert "demo-estate exists already" in output


def test_the_estate_and_the_lab_share_no_assets():
    """Each source keeps its own scopes, so collecting one never moves the other's assets."""
    demo()
    assert not Asset.objects.filter(scope__key=LAB_SCOPE).exclude(source__name="demo-lab").exists()
    assert not Asset.objects.filter(source__name="demo-lab").exclude(scope__key=LAB_SCOPE).exists()
    assert (
        not AssetChange.objects.filter(at__gt=timezone.now() - timedelta(minutes=5))
        .exclude(field="lifecycle")
        .exists()
    )


def test_bad_options_are_refused_before_anything_is_written():
    with pytest.raises(CommandError, match="--scale"):
        call_command("demo", scale=0, stdout=StringIO())
    assert not Team.objects.exists()
