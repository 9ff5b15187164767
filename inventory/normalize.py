"""Turns collector records into bounded, storable rows and fingerprints them.

The fingerprints are taken of a record as collected; the row is cleaned only when it is written.

Names, tags and labels are attacker-controlled: anyone who can deploy can put anything in them.
They are stored intact up to the providers' own limits, with only what no database can hold
(NUL characters, lone surrogates) replaced, and cut past generous bounds so one resource cannot
bloat the inventory.
"""

import hashlib
import operator
from datetime import datetime

import orjson

from collectors.records import AccessRecord, DiscoveredAsset

MAX_LABELS = 256
MAX_LABEL_KEY = 512  # Azure allows 512-character tag names, the longest of the providers.
MAX_LABEL_VALUE = 4096
MAX_STRING = 4096
MAX_LIST = 500
MAX_DEPTH = 8
TRUNCATED = "…"

# Collected fields whose change is history (an AssetChange row) …
DURABLE_FIELDS = (
    "kind",
    "name",
    "account",
    "region",
    "namespace",
    "parent_key",
    "labels",
    "runtime",
    "image",
    "image_digest",
    "platform_version",
    "endpoints",
    "security",
    "attributes",
    "creator",
    "provider_created_at",
)
# … and those updated in place, silently.
VOLATILE_FIELDS = ("state", "observed", "provider_modified_at")
COLLECTED_FIELDS = ("provider", *DURABLE_FIELDS, *VOLATILE_FIELDS)

COLUMN_LIMITS = {
    "key": 512,
    "name": 255,
    "account": 128,
    "region": 64,
    "namespace": 253,
    "parent_key": 512,
    "runtime": 64,
    "image": 512,
    "image_digest": 100,
    "platform_version": 64,
    "state": 32,
    "creator": 255,
    "provider": 20,
    "kind": 20,
    "event_id": 255,
    "actor": 255,
    "action": 255,
    "source_ip": 64,
    "user_agent": 512,
    "outcome": 64,
    "asset_key": 512,
}


class InvalidRecord(ValueError):
    """A record a collector produced that cannot be stored (no key, wrong types)."""


def clean_text(value, limit=MAX_STRING) -> str:
    """A string any database can store: no NULs, no lone surrogates, at most ``limit`` chars."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) > limit:
        text = text[: limit - 1] + TRUNCATED
    return text


def clean_json(value, depth=0):
    """JSON-safe copy of ``value`` with strings, lists and nesting bounded."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        return TRUNCATED
    if isinstance(value, dict):
        items = list(value.items())[:MAX_LIST]
        return {clean_text(k, MAX_LABEL_KEY): clean_json(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean_json(v, depth + 1) for v in list(value)[:MAX_LIST]]
    return clean_text(value)


def clean_labels(labels) -> dict[str, str]:
    if not isinstance(labels, dict):
        raise InvalidRecord(f"labels must be a mapping, not {type(labels).__name__}")
    items = list(labels.items())[:MAX_LABELS]
    return {clean_text(k, MAX_LABEL_KEY): clean_text(v, MAX_LABEL_VALUE) for k, v in items}


def _column(name, value):
    return clean_text(value, COLUMN_LIMITS[name])


def _fingerprint_default(value):
    """Values plain JSON has no form for: sets in a stable order, anything else as text."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


# Sorted mapping keys: the same labels in another order are the same asset. Dataclasses (the
# endpoints) are encoded field by field. orjson rather than the standard library: fingerprinting
# is most of what a re-sync does per unchanged asset, and orjson encodes these ~600 bytes in a
# quarter of the time.
_FINGERPRINT_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _fingerprint(values) -> str:
    payload = orjson.dumps(values, default=_fingerprint_default, option=_FINGERPRINT_OPTIONS)
    return hashlib.md5(payload, usedforsecurity=False).hexdigest()


# The record's own names for the durable and volatile fields.
_RECORD_NAMES = {"provider_created_at": "created_at", "provider_modified_at": "modified_at"}
_durable_of = operator.attrgetter(*(_RECORD_NAMES.get(f, f) for f in DURABLE_FIELDS))
_volatile_of = operator.attrgetter(*(_RECORD_NAMES.get(f, f) for f in VOLATILE_FIELDS))


def fingerprints(record: DiscoveredAsset) -> tuple[str, str]:
    """The durable and volatile fingerprints of an asset *as collected*, before cleaning.

    Cleaning is deterministic, so an unchanged record means an unchanged row: a re-sync, where
    nearly every asset is unchanged, recognises those without cleaning them (which cost more
    than all the rest a re-sync does per unchanged asset). Values JSON cannot hold as they are
    (text that is not valid Unicode, absurd nesting) are fingerprinted as stored instead.
    """
    try:
        return _fingerprint(_durable_of(record)), _fingerprint(_volatile_of(record))
    except orjson.JSONEncodeError:
        row = _cleaned_columns(record, asset_key(record))
        return (
            _fingerprint([row[f] for f in DURABLE_FIELDS]),
            _fingerprint([row[f] for f in VOLATILE_FIELDS]),
        )


def asset_key(record: DiscoveredAsset) -> str:
    """The record's key, cleaned; raises InvalidRecord for a record that cannot be stored."""
    if not isinstance(record, DiscoveredAsset):
        raise InvalidRecord(f"expected DiscoveredAsset, got {type(record).__name__}")
    key = _column("key", record.key)
    if not key.strip():
        raise InvalidRecord(f"asset without a key (name {record.name!r:.80})")
    for when in (record.created_at, record.modified_at):
        if when is not None and (not isinstance(when, datetime) or when.tzinfo is None):
            raise InvalidRecord(f"{key}: timestamps must be timezone-aware datetimes")
    if not isinstance(record.labels, dict):
        raise InvalidRecord(f"labels must be a mapping, not {type(record.labels).__name__}")
    return key


def _cleaned_columns(record: DiscoveredAsset, key: str) -> dict:
    return {
        "key": key,
        "provider": _column("provider", record.provider),
        "kind": _column("kind", record.kind),
        "name": _column("name", record.name) or key[-255:],
        "account": _column("account", record.account),
        "region": _column("region", record.region),
        "namespace": _column("namespace", record.namespace),
        "parent_key": _column("parent_key", record.parent_key),
        "labels": clean_labels(record.labels),
        "runtime": _column("runtime", record.runtime),
        "image": _column("image", record.image),
        "image_digest": _column("image_digest", record.image_digest),
        "platform_version": _column("platform_version", record.platform_version),
        "endpoints": [clean_json(e.as_dict()) for e in record.endpoints[:MAX_LIST]],
        "security": clean_json(record.security),
        "attributes": clean_json(record.attributes),
        "creator": _column("creator", record.creator),
        "provider_created_at": record.created_at,
        "state": _column("state", record.state),
        "observed": clean_json(record.observed),
        "provider_modified_at": record.modified_at,
    }


def asset_row(record: DiscoveredAsset, prints: tuple[str, str] | None = None) -> dict:
    """The columns an asset record fills, cleaned, with its durable and volatile fingerprints
    (``prints``, when the caller has taken them already)."""
    row = _cleaned_columns(record, asset_key(record))
    row["durable_hash"], row["volatile_hash"] = prints or fingerprints(record)
    return row


def event_row(record: AccessRecord) -> dict:
    """The columns an access record fills, cleaned."""
    if not isinstance(record.occurred_at, datetime) or record.occurred_at.tzinfo is None:
        raise InvalidRecord(f"event {record.event_id!r:.80}: occurred_at must be timezone-aware")
    event_id = _column("event_id", record.event_id)
    if not event_id:
        raise InvalidRecord("access event without an event id")
    return {
        "provider": _column("provider", record.provider),
        "event_id": event_id,
        "asset_key": _column("asset_key", record.asset_key),
        "occurred_at": record.occurred_at,
        "actor": _column("actor", record.actor),
        "action": _column("action", record.action) or "unknown",
        "source_ip": _column("source_ip", record.source_ip),
        "user_agent": _column("user_agent", record.user_agent),
        "outcome": _column("outcome", record.outcome),
        "detail": clean_json(record.detail),
    }
