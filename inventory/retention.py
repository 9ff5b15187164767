"""Pruning what is older than its retention period, in short batches.

Each batch is a range of primary keys deleted in its own transaction, so no table is locked for
long and a collection running meanwhile waits at most one batch. Periods come from settings
(DAYLIGHT_RETAIN_*; 0 keeps forever). The audit log and posture reports are evidence: they are
kept forever unless their own settings say otherwise, and each scope's latest report always
stays (the next one compares with it).

While an enabled SIEM destination takes a stream, nothing of that stream is pruned before the
destination acknowledged it: pruning holds back rather than lose a record the SIEM never got.
"""

import contextlib
import logging
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import (
    AccessEvent,
    Asset,
    AssetChange,
    AuditLog,
    CollectionRun,
    Delivery,
    ExportCursor,
    ExportDestination,
    Report,
    RunStatus,
    TrackingDecision,
)
from .models.reports import report_storage
from .siem.records import STREAMS, streams_for

logger = logging.getLogger(__name__)

UNBOUNDED = 2**63 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def prune(now=None) -> dict[str, int]:
    """Delete what every retention period has passed; returns the counts, audited as a system
    action when anything went."""
    from .services import audit

    now = now or timezone.now()
    held = exported_up_to()
    counts = {}
    if cutoff := _cutoff("DAYLIGHT_RETAIN_GONE_DAYS", now):
        counts["gone_assets"] = prune_gone_assets(cutoff, held)
    if cutoff := _cutoff("DAYLIGHT_RETAIN_EVENTS_DAYS", now):
        events = AccessEvent.objects.filter(occurred_at__lt=cutoff, pk__lte=held["access_events"])
        counts["access_events"] = delete_in_batches(events)
    if cutoff := _cutoff("DAYLIGHT_RETAIN_CHANGES_DAYS", now):
        counts["asset_changes"] = delete_in_batches(AssetChange.objects.filter(at__lt=cutoff))
    if cutoff := _cutoff("DAYLIGHT_RETAIN_RUNS_DAYS", now):
        runs = CollectionRun.objects.filter(started_at__lt=cutoff).exclude(status=RunStatus.RUNNING)
        counts["runs"] = delete_in_batches(runs)
    if cutoff := _cutoff("DAYLIGHT_RETAIN_AUDIT_DAYS", now):
        entries = AuditLog.objects.filter(at__lt=cutoff, pk__lte=held["audit"])
        counts["audit_entries"] = delete_in_batches(entries)
    if cutoff := _cutoff("DAYLIGHT_RETAIN_DELIVERIES_DAYS", now):
        sent = Delivery.objects.filter(status=Delivery.Status.SENT, sent_at__lt=cutoff)
        counts["deliveries_sent"] = delete_in_batches(sent)
    if cutoff := _cutoff("DAYLIGHT_RETAIN_FAILED_DELIVERIES_DAYS", now):
        last_failed_before = Q(last_attempt_at__lt=cutoff) | Q(
            last_attempt_at__isnull=True, created_at__lt=cutoff
        )
        failed = Delivery.objects.filter(last_failed_before, status=Delivery.Status.FAILED)
        counts["deliveries_failed"] = delete_in_batches(failed)
    if settings.DAYLIGHT_RETAIN_REPORTS_DAYS or settings.DAYLIGHT_RETAIN_REPORTS_KEEP:
        counts["reports"] = prune_reports(reports_past_retention(now))
    if any(counts.values()):
        audit(None, "retention.prune", object_type="retention", after=counts)
    return counts


def _cutoff(setting: str, now):
    days = getattr(settings, setting)
    return now - timedelta(days=days) if days else None


def delete_in_batches(queryset, batch_size=None) -> int:
    """Delete the queryset's rows DAYLIGHT_PRUNE_BATCH at a time, walking up the primary key;
    each batch is one key range, in its own transaction. Returns how many rows of the
    queryset's model went (rows cascaded from them are not counted)."""
    batch_size = batch_size or settings.DAYLIGHT_PRUNE_BATCH
    model = queryset.model._meta.label
    deleted, last = 0, 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        last = ids[-1]
        with transaction.atomic():
            _, per_model = queryset.filter(pk__gte=ids[0], pk__lte=last).delete()
        deleted += per_model.get(model, 0)


def exported_up_to() -> dict:
    """Per stream, how far every enabled destination taking it has acknowledged: the lowest
    cursor id (for resolutions, the lowest resolution time); no limit where none takes it. A
    destination that has not started a stream yet holds all of it back."""
    held = {name: UNBOUNDED for name in STREAMS} | {"findings_resolved": LATEST}
    cursors = {
        (c.destination_id, c.stream): c
        for c in ExportCursor.objects.filter(destination__enabled=True)
    }
    for destination in ExportDestination.objects.filter(enabled=True):
        for stream in streams_for(destination):
            cursor = cursors.get((destination.pk, stream.name))
            if stream.by_time:
                at = cursor.last_at if cursor and cursor.last_at else EARLIEST
                held[stream.name] = min(held[stream.name], at)
            else:
                held[stream.name] = min(held[stream.name], cursor.last_id if cursor else 0)
    return held


def prune_gone_assets(cutoff, held) -> int:
    """Assets gone before ``cutoff``, with their history, findings, decisions and access
    events; an asset with a finding, decision or event a SIEM has not yet taken is kept."""
    unexported = (
        Q(findings__pk__gt=held["findings_opened"])
        | Q(findings__resolved_at__gt=held["findings_resolved"])
        | Q(decisions__pk__gt=held["decisions"])
        | Q(events__pk__gt=held["access_events"])
    )
    gone = Asset.objects.filter(gone_at__lt=cutoff)
    if ExportDestination.objects.filter(enabled=True).exists():
        gone = gone.exclude(pk__in=Asset.objects.filter(unexported).values("pk"))
    batch_size = settings.DAYLIGHT_PRUNE_BATCH
    deleted, last = 0, 0
    while True:
        ids = list(
            gone.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        last = ids[-1]
        with transaction.atomic():
            # Access events outlive their asset otherwise (they keep its key); changes and
            # findings go with the asset's own delete, one statement each.
            AccessEvent.objects.filter(asset_id__in=ids).delete()
            Asset.objects.filter(pk__in=ids).update(decision=None)
            TrackingDecision.objects.filter(asset_id__in=ids).delete()
            _, per_model = Asset.objects.filter(pk__in=ids).delete()
        deleted += per_model.get(Asset._meta.label, 0)


def reports_past_retention(now) -> list[int]:
    """Reports created before DAYLIGHT_RETAIN_REPORTS_DAYS, or beyond the newest
    DAYLIGHT_RETAIN_REPORTS_KEEP of their scope (the organisation, or one team). Never one being
    made, nor a scope's latest ready report: the next report starts from it and compares with it.
    Reports are few (a handful per scope and year), so they are sorted here."""
    cutoff = _cutoff("DAYLIGHT_RETAIN_REPORTS_DAYS", now)
    keep = settings.DAYLIGHT_RETAIN_REPORTS_KEEP
    newer = Counter()
    baselines = set()
    doomed = []
    rows = (
        Report.objects.exclude(status=Report.Status.PENDING)
        .order_by("-period_end", "-id")
        .values_list("pk", "scope", "team_id", "scope_slug", "status", "created_at")
    )
    for pk, scope, team_id, slug, status, created_at in rows:
        group = (scope, team_id, slug)
        newer[group] += 1
        if status == Report.Status.READY and group not in baselines:
            baselines.add(group)
        elif (keep and newer[group] > keep) or (cutoff and created_at < cutoff):
            doomed.append(pk)
    return doomed


def prune_reports(ids: list[int]) -> int:
    """Delete these reports in batches, and their stored files once each batch's rows are gone
    (a file left behind by a failure is only untidy; a row without its file would be broken)."""
    storage = report_storage()
    batch_size = settings.DAYLIGHT_PRUNE_BATCH
    deleted = 0
    for start in range(0, len(ids), batch_size):
        batch = Report.objects.filter(pk__in=ids[start : start + batch_size])
        files = [name for row in batch.values_list("html", "pdf", "csv") for name in row if name]
        with transaction.atomic():
            _, per_model = batch.delete()
        deleted += per_model.get(Report._meta.label, 0)
        for name in files:
            _delete_file(storage, name)
    return deleted


def _delete_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError as exc:
        logger.warning("retention: cannot delete the report file %s: %s", name, exc)
        return
    # A local folder per report (MEDIA_ROOT/reports/YYYY/MM/<id>/) goes once it is empty; other
    # storages have no folders (NotImplementedError).
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(os.path.dirname(storage.path(name)))
