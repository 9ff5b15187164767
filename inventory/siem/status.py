"""What an admin sees of the SIEM export: per destination and stream, the last success, the
last error and how far behind it is."""

from dataclasses import dataclass
from datetime import datetime

from inventory.models import ExportCursor, ExportDestination

from .records import STREAMS, streams_for

LAG_CAP = 1000  # counted exactly up to here, then "1,000+"


@dataclass
class StreamStatus:
    stream: str
    label: str
    exported: int
    behind: int
    behind_capped: bool
    last_success_at: datetime | None
    last_error: str
    last_error_at: datetime | None


def export_status() -> list[ExportDestination]:
    """Every destination with ``.stream_status`` (one StreamStatus per stream it takes) and
    ``.failing`` (a stream's last attempt failed)."""
    destinations = list(ExportDestination.objects.prefetch_related("cursors"))
    for destination in destinations:
        cursors = {c.stream: c for c in destination.cursors.all()}
        destination.stream_status = []
        for stream in streams_for(destination):
            cursor = cursors.get(stream.name) or ExportCursor(stream=stream.name)
            behind = stream.pending(cursor).values("pk")[: LAG_CAP + 1].count()
            destination.stream_status.append(
                StreamStatus(
                    stream=stream.name,
                    label=STREAM_LABELS[stream.name],
                    exported=cursor.exported,
                    behind=min(behind, LAG_CAP),
                    behind_capped=behind > LAG_CAP,
                    last_success_at=cursor.last_success_at,
                    last_error=cursor.last_error,
                    last_error_at=cursor.last_error_at,
                )
            )
        destination.failing = any(s.last_error for s in destination.stream_status)
    return destinations


STREAM_LABELS = {
    "findings_opened": "Findings opened",
    "findings_resolved": "Findings resolved",
    "access_events": "Access events",
    "decisions": "Tracking decisions",
    "audit": "Audit log",
}
assert set(STREAM_LABELS) == set(STREAMS)
