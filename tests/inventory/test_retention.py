"""Retention: what is older than its period goes, in bounded batches, each its own statement;
what is newer stays; the SIEM export holds back what it has not yet delivered; the audit log is
kept unless its own period is set."""

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inventory import retention, services
from inventory.models import (
    AccessEvent,
    Asset,
    AssetChange,
    AuditLog,
    CollectionRun,
    Delivery,
    ExportCursor,
    ExportDestination,
    Finding,
    NotificationChannel,
    Report,
    RunStatus,
    ScopeRun,
    Team,
    TrackingDecision,
)
from inventory.models.reports import report_storage
from tests.dashboard.test_reports import stored_report

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def aged(scoped_estate, admin_user, now):
    """The estate with ``shadow`` gone 400 days ago (a risk accepted on it), ``plat`` gone 30
    days ago; every event, change and run 500 days old but one fresh event and change each."""
    services.accept_risk([scoped_estate["shadow"]], admin_user, "lab")
    Asset.objects.filter(name="shadow").update(gone_at=now - 400 * DAY)
    Asset.objects.filter(name="plat").update(gone_at=now - 30 * DAY)
    AccessEvent.objects.update(occurred_at=now - 500 * DAY)
    AssetChange.objects.update(at=now - 800 * DAY)
    CollectionRun.objects.update(started_at=now - 200 * DAY, status=RunStatus.SUCCEEDED)
    pay = scoped_estate["pay"]
    AccessEvent.objects.create(
        provider="aws",
        event_id="fresh",
        source=pay.source,
        asset=pay,
        occurred_at=now,
        action="Invoke",
    )
    AssetChange.objects.create(asset=pay, at=now, field=AssetChange.Field.NAME, old="a", new="b")
    return scoped_estate


class DeleteLog:
    """Every DELETE statement and how many rows it removed, as the database reports."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("DELETE"):
            table = sql.split('"')[1] if '"' in sql else sql.split()[2]
            self.statements.append((table, context["cursor"].rowcount))
        return result

    def rows(self, table):
        return [rows for name, rows in self.statements if name == table]


def test_what_is_past_its_period_goes_and_the_rest_stays(aged, now):
    counts = retention.prune(now)

    assert not Asset.objects.filter(name="shadow").exists()  # gone 400 days > 365
    assert set(Asset.objects.values_list("name", flat=True)) == {"pay", "plat"}
    shadow_id = aged["shadow"].pk
    for model in (Finding, AssetChange, TrackingDecision, AccessEvent):
        assert not model.objects.filter(asset_id=shadow_id).exists()
    assert list(AccessEvent.objects.values_list("event_id", flat=True)) == ["fresh"]
    assert list(AssetChange.objects.values_list("asset__name", flat=True)) == ["pay"]
    assert not CollectionRun.objects.exists() and not ScopeRun.objects.exists()
    assert Finding.objects.filter(asset__name="plat").exists()  # gone 30 days: kept
    assert counts == {
        "gone_assets": 1,
        "access_events": 2,  # plat's and pay's old ones; shadow's went with it
        "asset_changes": counts["asset_changes"],
        "runs": 1,
        "deliveries_sent": 0,
        "deliveries_failed": 0,
    }
    assert counts["asset_changes"] > 0
    entry = AuditLog.objects.get(action="retention.prune")
    assert entry.actor is None and entry.actor_name == "daylight" and entry.after == counts

    assert retention.prune(now) == {
        "gone_assets": 0,
        "access_events": 0,
        "asset_changes": 0,
        "runs": 0,
        "deliveries_sent": 0,
        "deliveries_failed": 0,
    }
    assert AuditLog.objects.filter(action="retention.prune").count() == 1  # nothing more to say


def test_a_gone_asset_stays_until_its_period_is_over(aged, now, settings):
    settings.DAYLIGHT_RETAIN_GONE_DAYS = 401
    retention.prune(now)
    assert Asset.objects.filter(name="shadow", gone_at__isnull=False).exists()
    assert Finding.objects.filter(asset__name="shadow").exists()
    retention.prune(now + 2 * DAY)
    assert not Asset.objects.filter(name="shadow").exists()


def test_deletes_go_in_bounded_batches_one_statement_each(scoped_estate, settings, now):
    settings.DAYLIGHT_PRUNE_BATCH = 2
    source = scoped_estate["pay"].source
    AccessEvent.objects.bulk_create(
        AccessEvent(
            provider="aws",
            event_id=f"old-{n}",
            source=source,
            occurred_at=now - 500 * DAY,
            action="x",
        )
        for n in range(7)
    )
    log = DeleteLog()
    with connection.execute_wrapper(log):
        retention.prune(now)
    rows = log.rows("inventory_accessevent")
    assert rows == [2, 2, 2, 1]  # 7 old events, two per statement; the 3 fresh ones stay
    assert AccessEvent.objects.count() == 3


def test_gone_assets_go_in_batches_with_what_hangs_off_them(scoped_estate, settings, now):
    settings.DAYLIGHT_PRUNE_BATCH = 2
    Asset.objects.update(gone_at=now - 400 * DAY)
    log = DeleteLog()
    with connection.execute_wrapper(log):
        assert retention.prune_gone_assets(now - 365 * DAY, retention.exported_up_to()) == 3
    assert log.rows("inventory_asset") == [2, 1]
    for table in ("inventory_finding", "inventory_accessevent", "inventory_trackingdecision"):
        assert max(log.rows(table), default=0) <= 2
    assert sum(log.rows("inventory_finding")) == 3 and sum(log.rows("inventory_accessevent")) == 3
    assert not Asset.objects.exists() and not Finding.objects.exists()


def test_audit_log_is_kept_forever_unless_its_own_period_is_set(aged, now, settings):
    AuditLog.objects.update(at=now - 5000 * DAY)
    old = set(AuditLog.objects.values_list("pk", flat=True))
    retention.prune(now)
    assert old <= set(AuditLog.objects.values_list("pk", flat=True))

    settings.DAYLIGHT_RETAIN_AUDIT_DAYS = 3650
    counts = retention.prune(now)
    assert counts["audit_entries"] == len(old)  # not the first prune's own, recent entry
    assert not AuditLog.objects.filter(pk__in=old).exists()
    assert AuditLog.objects.filter(action="retention.prune").count() == 2


def test_an_export_destination_holds_back_what_it_has_not_delivered(
    aged, now, admin_user, tmp_path
):
    siem = services.save_config(
        ExportDestination(name="siem", kind="file", path=str(tmp_path / "s.jsonl")), admin_user
    )
    retention.prune(now)  # the destination has sent nothing yet: no event, no gone asset goes
    assert AccessEvent.objects.count() == 4
    assert Asset.objects.filter(name="shadow").exists()

    cutoff_event = AccessEvent.objects.order_by("pk")[1]
    ExportCursor.objects.create(destination=siem, stream="access_events", last_id=cutoff_event.pk)
    retention.prune(now)
    assert AccessEvent.objects.filter(pk__lte=cutoff_event.pk).count() == 0
    assert AccessEvent.objects.count() == 2  # the undelivered old one and the fresh one

    siem.enabled = False  # a disabled destination holds nothing back
    services.save_config(siem, admin_user)
    retention.prune(now)
    assert list(AccessEvent.objects.values_list("event_id", flat=True)) == ["fresh"]
    assert not Asset.objects.filter(name="shadow").exists()


def test_the_scheduled_task_prunes(aged, tasks_in_process):
    from inventory.tasks import prune

    assert prune.delay().get()["gone_assets"] == 1


def _delivery(channel, key, status, *, created_days, attempted_days=None, sent_days=None):
    delivery = Delivery.objects.create(
        channel=channel, event="exposed", key=key, title=key, status=status
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - created_days * DAY,
        last_attempt_at=timezone.now() - attempted_days * DAY if attempted_days else None,
        sent_at=timezone.now() - sent_days * DAY if sent_days else None,
    )
    return key


def test_sent_deliveries_go_after_their_period_and_failed_ones_are_kept_longer(now):
    hook = NotificationChannel.objects.create(name="hook", kind="webhook", url="http://x.example")
    sent = Delivery.Status.SENT
    failed = Delivery.Status.FAILED
    _delivery(hook, "sent-old", sent, created_days=100, attempted_days=100, sent_days=100)
    _delivery(hook, "sent-new", sent, created_days=10, attempted_days=10, sent_days=10)
    # Failed 100 days ago although made long before (sent again from the Notifications page).
    _delivery(hook, "failed-recently", failed, created_days=500, attempted_days=100)
    _delivery(hook, "failed-old", failed, created_days=400, attempted_days=400)
    _delivery(hook, "failed-unattempted", failed, created_days=400)  # its variable was missing
    _delivery(hook, "pending-old", Delivery.Status.PENDING, created_days=500)

    counts = retention.prune(now)

    assert (counts["deliveries_sent"], counts["deliveries_failed"]) == (1, 2)
    left = set(Delivery.objects.values_list("key", flat=True))
    assert left == {"sent-new", "failed-recently", "pending-old"}


def _report(team=None, *, days, status=Report.Status.READY):
    report = stored_report(team)
    at = timezone.now() - days * DAY
    Report.objects.filter(pk=report.pk).update(created_at=at, period_end=at, status=status)
    return report


def _stored(report) -> bool:
    storage = report_storage()
    return all(storage.exists(getattr(report, ext).name) for ext in ("html", "pdf", "csv"))


def test_reports_are_kept_forever_by_default(now):
    _report(days=5000)
    _report(days=4000)
    assert "reports" not in retention.prune(now)
    assert Report.objects.count() == 2


def test_reports_past_their_period_go_with_their_files_but_each_scope_keeps_its_latest(
    now, settings, media_root
):
    settings.DAYLIGHT_RETAIN_REPORTS_DAYS = 365
    payments = Team.objects.create(name="Payments", slug="payments")
    oldest, older, latest = _report(days=400), _report(days=300), _report(days=200)
    failed = _report(days=500, status=Report.Status.FAILED)
    being_made = _report(days=500, status=Report.Status.PENDING)
    team_only = _report(payments, days=900)  # the team's latest: the next one compares with it

    assert retention.prune(now)["reports"] == 2

    kept = set(Report.objects.values_list("pk", flat=True))
    assert kept == {older.pk, latest.pk, being_made.pk, team_only.pk}
    assert not any(_stored(r) for r in (oldest, failed)) and _stored(older) and _stored(team_only)
    folder = media_root / os.path.dirname(oldest.pdf.name)
    assert not folder.exists() and folder.parent.exists()  # the report's own folder went
    entry = AuditLog.objects.get(action="retention.prune")
    assert entry.after["reports"] == 2


def test_only_the_newest_reports_of_each_scope_are_kept_in_batches(now, settings):
    settings.DAYLIGHT_RETAIN_REPORTS_KEEP = 2
    settings.DAYLIGHT_PRUNE_BATCH = 2
    payments = Team.objects.create(name="Payments", slug="payments")
    organisation = [_report(days=days) for days in (10, 20, 30, 40, 50, 60)]
    team = [_report(payments, days=days) for days in (15, 25, 35)]

    log = DeleteLog()
    with connection.execute_wrapper(log):
        assert retention.prune(now)["reports"] == 5

    assert log.rows("inventory_report") == [2, 2, 1]
    kept = set(Report.objects.values_list("pk", flat=True))
    assert kept == {r.pk for r in organisation[:2] + team[:2]}
    assert retention.prune(now)["reports"] == 0
