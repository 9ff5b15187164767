"""Celery tasks for Daylight's own jobs: thin, named, safe to run twice.

Celery beat runs the periodic ones from ``CELERY_BEAT_SCHEDULE`` (config/settings.py): daily
housekeeping, the retries of lost deliveries, the SIEM export, the posture reports and the
dashboard's estate-wide figures. Collections of each Source are scheduled separately, by the
PeriodicTask rows that ``inventory.schedules`` keeps.
"""

import logging
from contextlib import suppress
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from . import locks, retention, selectors, services
from .findings import rollup, sync_findings
from .models import Asset, AssetChange, CollectionRun, Delivery, ExportDestination
from .normalize import COLLECTED_FIELDS
from .notifications import events, sending
from .reports import mail, making
from .rules import RuleContext, evaluate
from .siem import export as siem
from .siem.destinations import ExportFailed

logger = logging.getLogger(__name__)

# What the rules read of an asset, plus what reevaluation compares and rewrites.
REEVALUATED_FIELDS = ("id", "key", *COLLECTED_FIELDS, "exposed", "eol", "max_severity")
ROLLUP_FIELDS = ("exposed", "eol", "max_severity")  # what inventory.findings.rollup sets


@shared_task(name="daylight.expire_decisions")
def expire_decisions() -> int:
    """Deactivate accepted-risk and other decisions past their expiry; returns how many."""
    return services.expire_decisions()


@shared_task(name="daylight.notify_run")
def notify_run(run_id: int) -> int:
    """Create (and queue) the notifications a finished collection run calls for; safe to run
    twice for the same run. Returns how many deliveries were created."""
    run = CollectionRun.objects.select_related("source").filter(pk=run_id).first()
    return len(events.notify_run(run)) if run else 0


@shared_task(name="daylight.notify_expired")
def notify_expired(decision_ids: list[int]) -> int:
    """Notify the rules about accepted risks that have just expired."""
    return len(events.notify_expired(decision_ids))


@shared_task(
    bind=True,
    name="daylight.deliver_notification",
    autoretry_for=(sending.DeliveryFailed,),
    max_retries=settings.DAYLIGHT_NOTIFY_RETRIES,
    retry_backoff=settings.DAYLIGHT_NOTIFY_BACKOFF,
    retry_backoff_max=settings.DAYLIGHT_NOTIFY_BACKOFF_MAX,
    retry_jitter=True,
    soft_time_limit=settings.DAYLIGHT_NOTIFY_TIMEOUT * 3,
    time_limit=settings.DAYLIGHT_NOTIFY_TIMEOUT * 3 + 10,
)
def deliver_notification(self, delivery_id: int) -> str | None:
    """Send one delivery; failures worth retrying are retried with exponential backoff, and the
    last one is recorded as failed. Returns the delivery's status."""
    delivery = sending.attempt(delivery_id, final=self.request.retries >= self.max_retries)
    return delivery.status if delivery else None


@shared_task(name="daylight.requeue_deliveries")
def requeue_deliveries() -> int:
    """Queue again the pending deliveries whose task was lost (the broker was down when they
    were created, a worker died): pending, and not attempted for longer than any backoff."""
    quiet_since = timezone.now() - timedelta(seconds=settings.DAYLIGHT_NOTIFY_BACKOFF_MAX + 600)
    stranded = Delivery.objects.filter(
        Q(last_attempt_at__lt=quiet_since)
        | Q(last_attempt_at__isnull=True, created_at__lt=quiet_since),
        status=Delivery.Status.PENDING,
    ).values_list("pk", flat=True)
    count = 0
    for delivery_id in stranded[:1000]:
        events.queue_delivery(delivery_id)
        count += 1
    return count


@shared_task(name="daylight.export_siem")
def export_siem() -> int:
    """Queue an export to every enabled SIEM destination; returns how many were queued."""
    destination_ids = list(
        ExportDestination.objects.filter(enabled=True).values_list("pk", flat=True)
    )
    for destination_id in destination_ids:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # No queue to retry from: the next scheduled export is the retry.
            with suppress(ExportFailed):
                export_to_destination(destination_id)
        else:
            export_to_destination.delay(destination_id)
    return len(destination_ids)


@shared_task(
    name="daylight.export_destination",
    autoretry_for=(ExportFailed,),
    max_retries=settings.DAYLIGHT_SIEM_RETRIES,
    retry_backoff=settings.DAYLIGHT_SIEM_BACKOFF,
    retry_backoff_max=settings.DAYLIGHT_SIEM_BACKOFF_MAX,
    retry_jitter=True,
)
def export_to_destination(destination_id: int) -> int:
    """Send what one destination has not acknowledged yet; a failed batch is retried with
    backoff (its cursor unmoved). Returns how many records were acknowledged."""
    destination = ExportDestination.objects.filter(pk=destination_id, enabled=True).first()
    if destination is None:
        return 0
    try:
        return siem.export_destination(destination)
    except siem.Busy:
        logger.info("SIEM export to %s is already running; skipping", destination.name)
        return 0


@shared_task(name="daylight.posture_reports")
def posture_reports() -> int:
    """The scheduled posture reports: the organisation's and every team's, each made by a task
    of its own. Returns how many were asked for."""
    reports = making.create_scheduled()
    for report in reports:
        make_report.delay(report.pk)
    return len(reports)


@shared_task(
    name="daylight.make_report",
    soft_time_limit=settings.DAYLIGHT_REPORT_TIME_LIMIT,
    time_limit=settings.DAYLIGHT_REPORT_TIME_LIMIT + 30,
)
def make_report(report_id: int) -> str | None:
    """Compute, render and store one report (then e-mail it if asked); returns its status."""
    report = making.make(report_id)
    return report.status if report else None


@shared_task(bind=True, name="daylight.email_report", max_retries=settings.DAYLIGHT_NOTIFY_RETRIES)
def email_report(self, report_id: int) -> str:
    """E-mail a ready report, retried with backoff while the mail server refuses; every
    failure is recorded on the report."""
    try:
        report = mail.send(report_id)
    except mail.SendFailed as exc:
        if settings.CELERY_TASK_ALWAYS_EAGER or self.request.retries >= self.max_retries:
            return "failed"
        delay = settings.DAYLIGHT_NOTIFY_BACKOFF * 2**self.request.retries
        raise self.retry(
            exc=exc, countdown=min(delay, settings.DAYLIGHT_NOTIFY_BACKOFF_MAX)
        ) from None
    return report.emailed_to if report else ""


@shared_task(name="daylight.prune")
def prune() -> dict:
    """Delete what is older than its retention period (inventory.retention); returns counts."""
    with locks.hold("retention:prune") as acquired:
        if not acquired:
            logger.info("pruning is already running; skipping")
            return {}
        return retention.prune()


@shared_task(
    name="daylight.warm_rollups",
    soft_time_limit=settings.DAYLIGHT_ROLLUP_REFRESH,
    time_limit=settings.DAYLIGHT_ROLLUP_REFRESH + 30,
)
def warm_rollups() -> str | None:
    """Count the dashboard's estate-wide figures again and cache them afresh, whether or not
    they are cached: beat runs it every ``DAYLIGHT_ROLLUP_REFRESH`` seconds, before they expire,
    so no viewer pays for counting the estate between collections, and writes no data stamp
    sees show within that interval. Returns the data stamp counted for; None when the database
    or the cache failed, which is logged: the figures are then counted by the next run, or by
    the next viewer once they expire."""
    try:
        return selectors.warm_rollups(recount=True)
    except (DatabaseError, RedisError, SoftTimeLimitExceeded):
        logger.warning("the estate-wide figures were not counted again", exc_info=True)
        return None


@shared_task(name="daylight.reevaluate_findings")
def reevaluate_findings() -> int:
    """Re-judge every live asset as of today; returns how many assets' roll-ups changed."""
    with locks.hold("findings:reevaluate") as acquired:
        if not acquired:
            logger.info("findings are already being reevaluated; skipping")
            return 0
        return reevaluate_assets()


def reevaluate_assets(now=None, batch_size=None) -> int:
    """Run the rules again over every live asset's stored facts, as of ``now``.

    Collections only judge assets whose facts changed, but some verdicts move with the calendar
    alone: a function goes stale, a runtime reaches end of life. This opens and resolves those
    findings and keeps each asset's exposed / eol / max_severity roll-up in step, writing only
    assets whose roll-up changed.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.DAYLIGHT_INGEST_BATCH
    context = RuleContext.current(now)
    live_ids = (
        Asset.objects.filter(gone_at__isnull=True).order_by("id").values_list("id", flat=True)
    )
    changed = 0
    last_id = 0
    while True:
        # Keyset pagination: each batch is its own short transaction, and collections that
        # run meanwhile are never blocked for the whole walk.
        batch_ids = list(live_ids.filter(id__gt=last_id)[:batch_size])
        if not batch_ids:
            return changed
        last_id = batch_ids[-1]
        try:
            with transaction.atomic():
                changed += _reevaluate_batch(batch_ids, context)
        except IntegrityError:
            # A collection opened one of these findings at the same moment; its verdict is as
            # fresh as ours, and tomorrow's run looks at the batch again.
            logger.warning(
                "reevaluating assets %s to %s collided with a collection; left for the next run",
                batch_ids[0],
                batch_ids[-1],
            )


def _reevaluate_batch(asset_ids, context) -> int:
    assets = list(Asset.objects.filter(pk__in=asset_ids).only(*REEVALUATED_FIELDS))
    verdicts, updated, history = {}, [], []
    for asset in assets:
        row = {field: getattr(asset, field) for field in COLLECTED_FIELDS}
        verdicts[asset.key] = fired = evaluate(row, context)
        summary = rollup(fired)
        if all(getattr(asset, name) == value for name, value in summary.items()):
            continue
        if asset.exposed != summary["exposed"]:
            history.append(
                AssetChange(
                    asset=asset,
                    at=context.now,
                    field=AssetChange.Field.EXPOSED,
                    old=asset.exposed,
                    new=summary["exposed"],
                )
            )
        for name, value in summary.items():
            setattr(asset, name, value)
        updated.append(asset)
    sync_findings(assets, verdicts, context.now, reevaluated=asset_ids)
    Asset.objects.bulk_update(updated, ROLLUP_FIELDS)
    AssetChange.objects.bulk_create(history)
    return len(updated)
