"""Kubernetes Events (core/v1) as context on a workload: what the cluster itself reported about
it recently — a container killed or crash-looping, a volume that would not mount, which image a
node pulled.

They are not access history. An Event has no actor: it is the scheduler, the kubelet or a
controller reporting on an object, aggregated (one Event counts many occurrences) and deleted by
the API server after its event TTL (an hour by default). So they are kept as a volatile fact of
the workload, ``observed["recent_events"]``, replaced at every collection and never written as
history; the asset's timeline shows them beside its changes and access events, marked as the
cluster's own reports.
"""

from dataclasses import dataclass, field
from datetime import UTC

from .transform import parse_time

DEFAULT_PER_WORKLOAD = 10
MAX_MESSAGE = 512
# Normal (non-warning) reasons worth a security person's attention: which image ran, a
# container killed or preempted, a workload scaled. Every Warning is kept (BackOff,
# FailedMount, Failed, FailedScheduling, Unhealthy, Evicted, …).
LIFECYCLE_REASONS = frozenset({"Pulled", "Killing", "Preempting", "ScalingReplicaSet"})


def is_notable(event: dict) -> bool:
    return event.get("type") == "Warning" or event.get("reason") in LIFECYCLE_REASONS


def event_time(event: dict):
    """When the event last happened: core/v1 Events from older reporters set lastTimestamp,
    those from the events.k8s.io API set eventTime and a series."""
    series = event.get("series") or {}
    for value in (
        event.get("lastTimestamp"),
        series.get("lastObservedTime"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        (event.get("metadata") or {}).get("creationTimestamp"),
    ):
        if (when := parse_time(value)) is not None:
            return when.astimezone(UTC)
    return None


def transform_event(event: dict) -> dict | None:
    """One notable Event as a workload keeps it, or None."""
    if not isinstance(event, dict) or not is_notable(event):
        return None
    when = event_time(event)
    if when is None:
        return None
    involved = event.get("involvedObject") or {}
    series = event.get("series") or {}
    return {
        "at": when.isoformat(),
        "type": event.get("type") or "",
        "reason": event.get("reason") or "",
        "message": (event.get("message") or "")[:MAX_MESSAGE],
        "count": event.get("count") or series.get("count") or 1,
        "object": f"{involved.get('kind', '')} {involved.get('name', '')}".strip(),
        "reported_by": event.get("reportingComponent")
        or (event.get("source") or {}).get("component")
        or "",
    }


def _newest_first(event: dict) -> tuple:
    # Every field, so that equal times still sort the same way on every run (the list is part
    # of the workload's fingerprint).
    return (event["at"], event["reason"], event["object"], event["message"], event["count"])


@dataclass
class RecentEvents:
    """The ``limit`` most recent notable Events of each involved object, by its UID."""

    limit: int = DEFAULT_PER_WORKLOAD
    by_uid: dict[str, list[dict]] = field(default_factory=dict)

    def add(self, event: dict) -> None:
        uid = (event.get("involvedObject") or {}).get("uid") if isinstance(event, dict) else None
        kept = transform_event(event) if uid and self.limit > 0 else None
        if kept is None:
            return
        events = self.by_uid.setdefault(uid, [])
        events.append(kept)
        if len(events) > 2 * self.limit:  # trim now and then, not at every event
            self._trim(events)

    def _trim(self, events: list[dict]) -> None:
        events.sort(key=_newest_first, reverse=True)
        del events[self.limit :]

    def for_objects(self, uids) -> list[dict]:
        """The most recent events of the objects ``uids`` (a workload, its ReplicaSets or Jobs,
        its pods), newest first."""
        merged = [event for uid in uids for event in self.by_uid.get(uid, ())]
        self._trim(merged)
        return merged
