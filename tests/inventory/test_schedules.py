"""What Celery beat runs: each Source's collection schedule, and Daylight's own daily jobs."""

import json
from datetime import timedelta

import pytest
from celery import beat
from celery.schedules import schedule
from celery.signals import beat_init
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from collectors.records import Endpoint
from config.celery import app
from inventory import schedules, selectors
from inventory.ingest import ScopeIngest
from inventory.models import (
    Asset,
    AssetChange,
    AuditLog,
    Finding,
    FindingStatus,
    Severity,
    Source,
    TrackingDecision,
    TrackingStatus,
)
from inventory.services import accept_risk
from inventory.tasks import expire_decisions, reevaluate_assets, reevaluate_findings
from tests.conftest import NOW, asset

pytestmark = pytest.mark.django_db
DAILY_TASKS = {
    "daylight-expire-decisions": "daylight.expire_decisions",
    "daylight-reevaluate-findings": "daylight.reevaluate_findings",
    "daylight-prune": "daylight.prune",
}
# Notification deliveries whose task was lost are looked for every quarter of an hour; the SIEM
# export runs every minute; posture reports are made once a quarter; the dashboard's
# estate-wide figures are counted again before they expire.
SYSTEM_TASKS = {
    **DAILY_TASKS,
    "daylight-requeue-deliveries": "daylight.requeue_deliveries",
    "daylight-export-siem": "daylight.export_siem",
    "daylight-posture-reports": "daylight.posture_reports",
    "daylight-warm-rollups": "daylight.warm_rollups",
}


def cron_of(task: PeriodicTask) -> str:
    c = task.crontab
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def periodic_task(source) -> PeriodicTask:
    return PeriodicTask.objects.select_related("crontab").get(name=schedules.task_name(source))


# --- each Source's collection schedule ----------------------------------------------------------


def test_saving_a_source_creates_its_periodic_task(source):
    task = periodic_task(source)
    assert task.task == "daylight.collect_source"
    assert json.loads(task.args) == [source.pk]
    assert cron_of(task) == "0 * * * *"
    assert task.crontab.timezone.key == "UTC"
    assert task.enabled is True
    assert task.interval is None


def test_changing_the_schedule_updates_the_same_periodic_task(source):
    source.schedule = "*/15 2-5 * * 1-5"
    source.save()

    assert PeriodicTask.objects.filter(task="daylight.collect_source").count() == 1
    assert cron_of(periodic_task(source)) == "*/15 2-5 * * 1-5"


def test_disabling_a_source_disables_its_periodic_task_and_enabling_restores_it(source):
    source.enabled = False
    source.save()
    assert periodic_task(source).enabled is False

    source.enabled = True
    source.save()
    assert periodic_task(source).enabled is True


def test_deleting_a_source_removes_its_periodic_task(source):
    other = Source.objects.create(name="other", provider="demo")
    source.delete()

    assert not PeriodicTask.objects.filter(name=schedules.task_name(source)).exists()
    assert PeriodicTask.objects.filter(name=schedules.task_name(other)).exists()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "must have 5 fields"),
        ("* * * * * *", "must have 5 fields"),
        ("", "must have 5 fields"),
        ("61 * * * *", "is not a valid cron expression"),
        ("0 25 * * *", "is not a valid cron expression"),
        ("0 * * * funday", "is not a valid cron expression"),
    ],
)
def test_parse_cron_rejects_bad_expressions_naming_them(expression, message):
    with pytest.raises(ValueError, match=message) as excinfo:
        schedules.parse_cron(expression)
    assert repr(expression) in str(excinfo.value)


def test_parse_cron_splits_a_good_expression_into_named_fields():
    assert schedules.parse_cron("30 6 1 */2 mon") == {
        "minute": "30",
        "hour": "6",
        "day_of_month": "1",
        "month_of_year": "*/2",
        "day_of_week": "mon",
    }


def test_a_source_with_a_bad_schedule_fails_validation_on_its_schedule_field():
    source = Source(name="bad-cron", provider="demo", schedule="every hour")
    with pytest.raises(ValidationError) as excinfo:
        source.full_clean()
    assert "must have 5 fields" in excinfo.value.message_dict["schedule"][0]


# --- Daylight's own daily jobs ------------------------------------------------------------------


def test_system_jobs_are_registered_celery_tasks_scheduled_daily(settings):
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {name: entry["task"] for name, entry in schedule.items()} == SYSTEM_TASKS
    assert all(entry["task"] in app.tasks for entry in schedule.values())
    for name in DAILY_TASKS:
        cron = schedule[name]["schedule"]
        assert len(cron.minute) == 1 and len(cron.hour) == 1, "runs once a day"
        assert len(cron.day_of_month) == 31 and len(cron.day_of_week) == 7, "every day"


def test_beat_counts_the_dashboard_figures_again_before_they_expire(settings):
    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["daylight-warm-rollups"]
    every = schedule(entry["schedule"]).run_every.total_seconds()
    assert every == settings.DAYLIGHT_ROLLUP_REFRESH == 10 * 60
    assert every < selectors.ROLLUP_TTL == settings.DAYLIGHT_ROLLUP_TTL
    # A run that waited in the queue past the next one's time is dropped, and one that runs
    # is stopped before the next one is due: runs never pile up.
    assert entry["options"]["expire_seconds"] <= every
    assert app.tasks["daylight.warm_rollups"].soft_time_limit <= every


# Beat closes and commits the connection as it reads the schedule: no wrapping test transaction.
@pytest.mark.django_db(transaction=True)
def test_beat_database_scheduler_stores_system_jobs_beside_source_schedules(source, settings):
    # What `celery beat --scheduler django_celery_beat.schedulers:DatabaseScheduler` does at start.
    DatabaseScheduler(app=app, lazy=True).setup_schedule()

    stored = {
        task.name: task
        for task in PeriodicTask.objects.select_related("crontab").filter(enabled=True)
    }
    assert stored[schedules.task_name(source)].task == "daylight.collect_source"
    assert stored["daylight-requeue-deliveries"].task == "daylight.requeue_deliveries"
    warm = PeriodicTask.objects.select_related("interval").get(name="daylight-warm-rollups")
    assert (warm.task, warm.interval.every, warm.interval.period) == (
        "daylight.warm_rollups",
        settings.DAYLIGHT_ROLLUP_REFRESH,
        "seconds",
    )
    assert warm.expire_seconds == settings.DAYLIGHT_ROLLUP_REFRESH
    for name, task_name in DAILY_TASKS.items():
        assert stored[name].task == task_name
        entry = settings.CELERY_BEAT_SCHEDULE[name]["schedule"]
        assert cron_of(stored[name]) == f"{min(entry.minute)} {min(entry.hour)} * * *"


@pytest.mark.django_db(transaction=True)
def test_a_job_the_settings_drop_stops_when_beat_starts_again(source, settings):
    """Reports scheduled once, then DAYLIGHT_REPORT_SCHEDULE=off: the stored entry goes at
    beat's next start (the database scheduler alone would keep running it)."""
    start_beat()
    assert PeriodicTask.objects.filter(name="daylight-posture-reports", enabled=True).exists()

    settings.CELERY_BEAT_SCHEDULE = {
        name: entry
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if name != "daylight-posture-reports"
    }
    start_beat()

    stored = set(PeriodicTask.objects.filter(enabled=True).values_list("name", flat=True))
    assert "daylight-posture-reports" not in stored
    assert {*settings.CELERY_BEAT_SCHEDULE, schedules.task_name(source)} <= stored


def start_beat():
    """What `celery beat` does at start: its scheduler stores the settings' jobs (reading its
    max_interval makes it), then it sends beat_init."""
    service = beat.Service(app=app, scheduler_cls=DatabaseScheduler)
    assert service.scheduler.max_interval > 0
    beat_init.send(sender=service)


def ingest(scope_run, records, at=NOW):
    session = ScopeIngest(scope_run(at=at))
    for record in records:
        session.add(record)
    session.finish(complete=True)


def lambda_fn(name, **fields):
    return asset(f"arn:aws:lambda:us-east-1:111111111111:function:{name}", **fields)


def open_rules(name):
    return set(
        Finding.objects.filter(asset__name=name, status=FindingStatus.OPEN).values_list(
            "rule", flat=True
        )
    )


def test_reevaluation_opens_findings_that_only_the_passing_of_time_creates(scope_run):
    ingest(
        scope_run,
        [
            lambda_fn("idle", runtime="python3.12", modified_at=NOW - timedelta(days=10)),
            lambda_fn("aging", runtime="python3.11", modified_at=NOW),
        ],
    )
    assert open_rules("idle") == set() and open_rules("aging") == set()

    later = NOW + timedelta(days=300)  # past python3.11's end of life and the stale threshold
    assert reevaluate_assets(now=later) == 2

    assert open_rules("idle") == {"stale-function"}
    assert open_rules("aging") == {"stale-function", "runtime-eol"}
    aging = Asset.objects.get(name="aging")
    assert aging.eol is True and aging.max_severity == Severity.HIGH
    finding = Finding.objects.get(asset=aging, rule="runtime-eol")
    assert finding.opened_at == later and "end of life" in finding.detail


def test_reevaluation_resolves_findings_whose_rule_no_longer_fires(scope_run, settings):
    ingest(scope_run, [asset("c1", kind="container", image="docker.io/acme/api:1.2.3")])
    assert open_rules("c1") == {"untrusted-registry"}

    settings.DAYLIGHT_TRUSTED_REGISTRIES = ["docker.io"]
    later = NOW + timedelta(hours=1)
    assert reevaluate_assets(now=later) == 1

    assert open_rules("c1") == set()
    resolved = Finding.objects.get(asset__name="c1", rule="untrusted-registry")
    assert resolved.status == FindingStatus.RESOLVED and resolved.resolved_at == later
    assert Asset.objects.get(name="c1").max_severity is None


def test_reevaluation_records_exposure_changes_on_the_timeline(scope_run):
    ingest(scope_run, [lambda_fn("api", endpoints=[Endpoint("https://api", True, "iam")])])
    api = Asset.objects.get(name="api")
    assert api.exposed is True
    # Stored facts that no rule would call exposed any more (as after a rule is narrowed):
    Asset.objects.filter(pk=api.pk).update(endpoints=[{"address": "https://api", "public": False}])

    reevaluate_assets(now=NOW + timedelta(hours=1))

    api.refresh_from_db()
    assert api.exposed is False
    change = api.changes.get(field=AssetChange.Field.EXPOSED, at=NOW + timedelta(hours=1))
    assert (change.old, change.new) == (True, False)


def test_reevaluation_is_idempotent_and_leaves_gone_assets_alone(scope_run):
    ingest(scope_run, [lambda_fn("keep", modified_at=NOW), lambda_fn("gone", modified_at=NOW)])
    ingest(scope_run, [lambda_fn("keep", modified_at=NOW)], at=NOW + timedelta(hours=1))
    assert Asset.objects.get(name="gone").gone_at is not None
    later = NOW + timedelta(days=200)

    assert reevaluate_assets(now=later, batch_size=1) == 1
    findings = list(Finding.objects.order_by("pk").values())
    history = AssetChange.objects.count()
    assert reevaluate_assets(now=later, batch_size=1) == 0

    assert list(Finding.objects.order_by("pk").values()) == findings
    assert AssetChange.objects.count() == history
    assert open_rules("keep") == {"stale-function"}
    assert open_rules("gone") == set()


def test_reevaluate_findings_task_runs_over_the_inventory(scope_run):
    ingest(scope_run, [lambda_fn("old", runtime="python3.8", modified_at=NOW)])
    Finding.objects.all().delete()  # as if the rule had been added after the last collection

    result = reevaluate_findings.apply()

    assert result.successful()
    assert open_rules("old") >= {"runtime-eol"}


def test_expire_decisions_task_reopens_expired_acceptances(scope_run):
    ingest(scope_run, [lambda_fn("risky")])
    risky = Asset.objects.get(name="risky")
    person = User.objects.create_user("itstaff")
    accept_risk([risky], person, "pilot ends soon", expires_at=NOW)
    assert Asset.objects.get(pk=risky.pk).tracking == TrackingStatus.ACCEPTED

    result = expire_decisions.apply()

    assert result.get() == 1
    risky.refresh_from_db()
    assert risky.tracking == TrackingStatus.UNTRACKED and risky.decision is None
    assert not TrackingDecision.objects.filter(asset=risky, active=True).exists()
    assert AuditLog.objects.filter(
        action="asset.decision_expired", object_id=str(risky.pk)
    ).exists()
