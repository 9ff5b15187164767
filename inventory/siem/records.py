"""The exported streams: what each reads, in which order, and the JSON object of each record.

Every record carries ``schema``, ``type``, ``id`` (stable: a repeated delivery repeats it, so a
SIEM can drop duplicates) and ``time`` (when it happened, ISO 8601 UTC), then its own fields.
Fields are only ever added to a schema version, never renamed or removed.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db.models import Q

from inventory.models import AccessEvent, AuditLog, Finding, Severity, TrackingDecision

SCHEMA = "daylight.siem/1"


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _asset(asset) -> dict | None:
    if asset is None:
        return None
    return {
        "id": asset.pk,
        "key": asset.key,
        "name": asset.name,
        "provider": asset.provider,
        "kind": asset.kind,
        "account": asset.account,
        "region": asset.region,
        "namespace": asset.namespace,
    }


def _envelope(type_: str, record_id: str, time: datetime, **fields) -> dict:
    return {"schema": SCHEMA, "type": type_, "id": record_id, "time": _time(time), **fields}


def _finding_fields(finding: Finding) -> dict:
    return {
        "finding_id": finding.pk,
        "rule": finding.rule,
        "category": finding.category,
        "severity": Severity(finding.severity).label.lower(),
        "detail": finding.detail,
        "opened_at": _time(finding.opened_at),
        "asset": _asset(finding.asset),
    }


def finding_opened(finding: Finding) -> dict:
    return _envelope(
        "finding.opened",
        f"finding:{finding.pk}:opened",
        finding.opened_at,
        **_finding_fields(finding),
    )


def finding_resolved(finding: Finding) -> dict:
    return _envelope(
        "finding.resolved",
        f"finding:{finding.pk}:resolved",
        finding.resolved_at,
        **_finding_fields(finding),
        resolved_at=_time(finding.resolved_at),
    )


def access_event(event: AccessEvent) -> dict:
    return _envelope(
        "access_event",
        f"access_event:{event.pk}",
        event.occurred_at,
        provider=event.provider,
        event_id=event.event_id,
        source=event.source.name,
        actor=event.actor,
        action=event.action,
        source_ip=event.source_ip,
        user_agent=event.user_agent,
        outcome=event.outcome,
        asset_key=event.asset_key,
        asset=_asset(event.asset),
        detail=event.detail,
    )


def tracking_decision(decision: TrackingDecision) -> dict:
    return _envelope(
        "tracking_decision",
        f"tracking_decision:{decision.pk}",
        decision.decided_at,
        kind=decision.kind,
        team=decision.team.slug if decision.team else None,
        reason=decision.reason,
        expires_at=_time(decision.expires_at),
        decided_by=decision.decided_by.get_username() if decision.decided_by else None,
        asset=_asset(decision.asset),
    )


def audit_entry(entry: AuditLog) -> dict:
    return _envelope(
        "audit",
        f"audit:{entry.pk}",
        entry.at,
        actor=entry.actor_name,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        object_repr=entry.object_repr,
        before=entry.before,
        after=entry.after,
        note=entry.note,
    )


def line(record: dict) -> bytes:
    """One JSON line, newline included; keys in a stable order."""
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


@dataclass(frozen=True)
class Stream:
    """One cursor's worth of records. Most streams follow their table's ids, which only ever
    grow; resolutions follow (resolved_at, id), as a finding is resolved long after its id."""

    name: str
    option: str  # the destination's ``streams`` entry that selects it
    rows: object  # callable returning the base queryset
    to_record: object
    by_time: str = ""  # the time field of a (time, id) cursor

    def limit(self, cursor, now):
        """How far the stream may go this run: past it, a transaction still open could yet
        commit a record that belongs before what is visible (see inventory.siem.export)."""
        if self.by_time:
            return now - timedelta(seconds=settings.DAYLIGHT_SIEM_RESOLVED_SETTLE)
        return settled_id(self, cursor, now)

    def pending(self, cursor, limit=None):
        """Rows past the cursor (and up to ``limit``), in cursor order."""
        rows = self.rows()
        if not self.by_time:
            rows = rows.filter(pk__lte=limit) if limit is not None else rows
            return rows.filter(pk__gt=cursor.last_id).order_by("pk")
        field = self.by_time
        rows = rows.filter(**{f"{field}__lte": limit}) if limit is not None else rows
        if cursor.last_at is not None:
            rows = rows.filter(
                Q(**{f"{field}__gt": cursor.last_at})
                | Q(**{field: cursor.last_at, "pk__gt": cursor.last_id})
            )
        return rows.order_by(field, "pk")

    def position(self, row):
        return (getattr(row, self.by_time) if self.by_time else None), row.pk


def settled_id(stream: Stream, cursor, now) -> int:
    """The highest id that is safe to pass: one that was already the highest some
    DAYLIGHT_SIEM_SETTLE seconds ago, so any transaction that held a lower id then has
    committed or rolled back by now (a transaction may commit after one with a higher id).
    Samples of the highest id are kept on the cursor."""
    settle = timedelta(seconds=settings.DAYLIGHT_SIEM_SETTLE)
    newest = stream.rows().model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    samples = [(datetime.fromisoformat(at), high) for at, high in cursor.horizon]
    if not samples or samples[-1][1] < newest:
        samples.append((now, newest))
    ripe = [sample for sample in samples if sample[0] <= now - settle]
    settled = ripe[-1][1] if ripe else cursor.last_id  # the highest ids only grow
    ripening = [sample for sample in samples if sample[0] > now - settle]
    # The newest ripe sample and the latest of those still ripening (later ones only delay).
    kept = ripe[-1:] + ripening[-50:]
    cursor.horizon = [[at.isoformat(), high] for at, high in kept]
    return settled


def _findings():
    return Finding.objects.select_related("asset")


STREAMS = {
    s.name: s
    for s in (
        Stream("findings_opened", "findings", _findings, finding_opened),
        Stream(
            "findings_resolved",
            "findings",
            lambda: _findings().filter(resolved_at__isnull=False),
            finding_resolved,
            by_time="resolved_at",
        ),
        Stream(
            "access_events",
            "access_events",
            lambda: AccessEvent.objects.select_related("source", "asset"),
            access_event,
        ),
        Stream(
            "decisions",
            "decisions",
            lambda: TrackingDecision.objects.select_related("asset", "team", "decided_by"),
            tracking_decision,
        ),
        Stream("audit", "audit", lambda: AuditLog.objects.all(), audit_entry),
    )
}


def streams_for(destination) -> list[Stream]:
    wanted = set(destination.stream_names())
    return [stream for stream in STREAMS.values() if stream.option in wanted]
