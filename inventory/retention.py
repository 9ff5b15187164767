"""Pruning what is older than its retention period, in short batches.

Each batch is a range of primary keys deleted in its own transaction, so no table is locked for
long and a collection running meanwhile waits at most one batch. Periods come from settings
(DAYLIGHT_RETAIN_*; 0 keeps forever). The audit log is evidence: it is kept forever unless
DAYLIGHT_RETAIN_AUDIT_DAYS is set.

While an enabled SIEM destination takes a stream, nothing of that stream is pruned before the
destination acknowledged it: pruning holds back rather than lose a record the SIEM never got.
"""

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
    ExportCursor,
    ExportDestination,
    RunStatus,
    TrackingDecision,
)
from .siem.records import STREAMS, streams_for

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
