"""Moving each destination's cursors forward, batch by batch, at least once.

For each stream a destination takes, records past its cursor are read in cursor order, at most
DAYLIGHT_SIEM_BATCH at a time, sent, and only once the destination acknowledged the batch does
the cursor move to its last record. A failure leaves the cursor where it was, so the next
attempt sends the same records again: a SIEM may see a record twice (the same ``id``), never
miss one.

Ids are given out when a row is inserted but become visible when its transaction commits, which
may be after a later id's. So a stream moves only up to an id that was already the highest
DAYLIGHT_SIEM_SETTLE seconds ago; resolutions, which follow the time they were stamped with,
wait DAYLIGHT_SIEM_RESOLVED_SETTLE (longer than any task that resolves findings may run).
"""

import logging

from django.conf import settings
from django.utils import timezone

from inventory import locks
from inventory.models import ExportCursor, ExportDestination

from .destinations import ExportFailed, send
from .records import line, streams_for

logger = logging.getLogger(__name__)
MAX_ERROR = 1000


class Busy(Exception):
    """Another worker is exporting to this destination right now."""


def export_destination(destination: ExportDestination, *, now=None) -> int:
    """Send every settled record the destination has not acknowledged, up to
    DAYLIGHT_SIEM_MAX_BATCHES batches per stream. Returns how many records were acknowledged;
    raises ExportFailed (after recording it) when the destination did not take a batch."""
    with locks.hold(f"siem:{destination.pk}") as acquired:
        if not acquired:
            raise Busy(destination.name)
        sent = 0
        for stream in streams_for(destination):
            cursor, _ = ExportCursor.objects.get_or_create(
                destination=destination, stream=stream.name
            )
            sent += export_stream(destination, stream, cursor, now or timezone.now())
        return sent


def export_stream(destination, stream, cursor, now) -> int:
    """Send one stream's settled records in bounded batches; the cursor is saved after each
    acknowledged batch, so a failure later in the run keeps what was delivered before it."""
    sent = 0
    limit = stream.limit(cursor, now)
    cursor.last_attempt_at = timezone.now()
    for _ in range(settings.DAYLIGHT_SIEM_MAX_BATCHES):
        batch = list(stream.pending(cursor, limit)[: settings.DAYLIGHT_SIEM_BATCH])
        if not batch:
            break
        records = [stream.to_record(row) for row in batch]
        try:
            send(destination, records, [line(record) for record in records])
        except ExportFailed as exc:
            _record_failure(cursor, str(exc))
            raise
        cursor.last_at, cursor.last_id = stream.position(batch[-1])
        cursor.exported += len(batch)
        cursor.save(update_fields=["last_at", "last_id", "exported", "horizon"])
        sent += len(batch)
    cursor.last_success_at, cursor.last_error = timezone.now(), ""
    cursor.save()
    return sent


def _record_failure(cursor: ExportCursor, message: str) -> None:
    cursor.last_error = message[:MAX_ERROR]
    cursor.last_error_at = timezone.now()
    # Only the error and the horizon: the position is exactly what was acknowledged before.
    cursor.save(update_fields=["last_error", "last_error_at", "last_attempt_at", "horizon"])
    logger.warning("SIEM export to %s (%s) failed: %s", cursor.destination, cursor.stream, message)
