"""The one path by which collected facts enter the database.

Every collector streams records for one scope into a ``ScopeIngest``. In batches it:
  1. fingerprints each asset (durable and volatile fields) and recognises the unchanged ones in
     memory, against the scope's stored assets read once per run as a compact digest of key and
     fingerprints; only the others are looked up by key. Unchanged assets are never written, so
     a re-sync of an unchanged estate costs one read of the scope;
  2. upserts new and changed assets in one statement per batch of them (gathered across the
     batches looked up), with their owner (rules or a human decision), tracking status and
     findings derived here, never by collectors;
  3. writes an AssetChange for every durable field that changed, and for owner, tracking and
     exposure changes;
  4. when — and only when — the scope was read completely, marks the assets it no longer has
     as gone.
Re-ingesting the same records is a no-op.
"""

import hashlib
import json
import logging
from collections import Counter
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Subquery

from collectors.records import AccessRecord, Cursor, DiscoveredAsset

from .findings import resolve_findings, rollup, sync_findings
from .models import (
    AccessEvent,
    Asset,
    AssetChange,
    Finding,
    ScopeRun,
    Team,
    TrackingDecision,
)
from .normalize import (
    COLLECTED_FIELDS,
    DURABLE_FIELDS,
    InvalidRecord,
    asset_key,
    asset_row,
    event_row,
    fingerprints,
)
from .ownership import decide_owner, load_rules
from .rules import RuleContext, evaluate

logger = logging.getLogger(__name__)

DERIVED_FIELDS = (
    "owner",
    "owner_basis",
    "owner_rule",
    "tracking",
    "exposed",
    "eol",
    "max_severity",
)
UPSERT_FIELDS = (
    *COLLECTED_FIELDS,
    "durable_hash",
    "volatile_hash",
    "source",
    "scope",
    "parent",
    "last_changed",
    "gone_at",
    *DERIVED_FIELDS,
)
# What the diff needs of an asset that changed.
PRIOR_FIELDS = (
    "id",
    *DURABLE_FIELDS,
    "durable_hash",
    "last_changed",
    "gone_at",
    "parent_id",
    "owner_id",
    "tracking",
    "exposed",
    "decision_id",
)
MAX_REPORTED_ERRORS = 20
# Stored assets read per query when a run recognises unchanged ones.
DIGEST_PAGE = 20_000
# A subquery that yields the strings of the JSON array given as its one parameter.
KEYS_FROM_JSON = {
    "postgresql": "SELECT jsonb_array_elements_text(%s::jsonb)",
    "sqlite": "SELECT value FROM json_each(%s)",
}


def _identity(key: str, prints: tuple[str, str]) -> bytes:
    """A 16-byte digest of an asset's key and fingerprints: equal digests, unchanged asset."""
    text = f"{key}\x00{prints[0]}{prints[1]}"
    return hashlib.md5(text.encode(), usedforsecurity=False).digest()


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


class ScopeIngest:
    """Takes one scope's records, in any number of batches, and reconciles them with the
    database."""

    def __init__(self, scope_run: ScopeRun, *, now=None, batch_size=None):
        self.scope_run = scope_run
        self.scope = scope_run.scope
        self.now = now or scope_run.started_at
        self.batch_size = batch_size or settings.DAYLIGHT_INGEST_BATCH
        self.ownership_rules = load_rules()
        self.rule_context = RuleContext.current(self.now)
        self.team_names = dict(Team.objects.values_list("id", "name"))
        self.counts = Counter()
        self.errors: list[str] = []
        self.cursor: dict | None = None
        # The scope's live assets as stored when the run began, digest → id, read on first use.
        # A digest found is an unchanged asset (and taken out); what is left at the end was not
        # seen unchanged. ~100 bytes an asset: a 1,000,000-asset scope holds ~100 MB here
        # instead of issuing 500 key lookups.
        self._stored: dict[bytes, int] | None = None
        # Assets seen this run that the digests did not account for: written, or found
        # unchanged by key (a record the scope had twice, or one that moved in from another).
        self._seen_ids: set[int] = set()
        # key → (record, its fingerprints) of the records the digests did not recognise, to be
        # looked up by key together; rows are cleaned only for the assets that are then written.
        self._unrecognised: dict[str, tuple[DiscoveredAsset, tuple[str, str]]] = {}
        # Rows to write, new by key and changed by id. They are written once a batch of them has
        # gathered, not once per batch compared: a re-sync changes ~1% of its assets, and
        # writing those few per compared batch paid a whole upsert's round trips for each.
        self._new_rows: dict[str, dict] = {}
        self._changed_rows: dict[int, dict] = {}
        self._pending_events: dict[tuple[str, str], dict] = {}

    # --- intake -------------------------------------------------------------------------------

    def add(self, record) -> None:
        try:
            if isinstance(record, DiscoveredAsset):
                self._add_asset(record)
            elif isinstance(record, AccessRecord):
                row = event_row(record)
                self._pending_events[(row["provider"], row["event_id"])] = row
            elif isinstance(record, Cursor):
                self.cursor = record.values
            else:
                raise InvalidRecord(f"unknown record type {type(record).__name__}")
        except InvalidRecord as exc:
            self._reject(str(exc))
            return
        if len(self._unrecognised) >= self.batch_size:
            self._look_up_unrecognised()
        if len(self._pending_events) >= self.batch_size:
            self._write_events()

    def _reject(self, message: str) -> None:
        self.counts["invalid"] += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)

    @property
    def lost_records(self) -> bool:
        return self.counts["invalid"] > 0

    def flush(self) -> None:
        if self._unrecognised:
            self._look_up_unrecognised()
        if self._new_rows or self._changed_rows:
            self._write_assets()
        if self._pending_events:
            self._write_events()

    def finish(self, *, complete: bool) -> None:
        """Write what is pending; mark gone only if the scope was read completely and nothing was
        rejected (a rejected record may be an asset that still exists)."""
        self.flush()
        if complete and not self.lost_records:
            self._mark_gone()
        self._link_parents()
        self._link_events()

    # --- assets -------------------------------------------------------------------------------

    def _add_asset(self, record: DiscoveredAsset) -> None:
        key, prints = asset_key(record), fingerprints(record)
        self.counts["seen"] += 1
        if self._stored_digests().pop(_identity(key, prints), None) is None:
            self._unrecognised[key] = (record, prints)

    def _look_up_unrecognised(self) -> None:
        """Sort the records the digests did not recognise into new, changed and unchanged."""
        pending, self._unrecognised = self._unrecognised, {}
        stored = self._stored_fingerprints(list(pending))
        for key, (record, prints) in pending.items():
            if key not in stored:
                self._new_rows[key] = asset_row(record, prints)
                continue
            pk, durable, volatile, alive, scope_id = stored[key]
            if (durable, volatile) == prints and alive and scope_id == self.scope.pk:
                self._seen_ids.add(pk)
            else:
                self._changed_rows[pk] = asset_row(record, prints)
        if len(self._new_rows) + len(self._changed_rows) >= self.batch_size:
            self._write_assets()

    def _stored_digests(self) -> dict[bytes, int]:
        if self._stored is None:
            self._stored = {
                _identity(key, (durable, volatile)): pk
                for pk, key, durable, volatile in self._live_assets()
            }
        return self._stored

    def _live_assets(self):
        """(id, key, durable hash, volatile hash) of the scope's live assets, in pages by id.

        Pages, not a server-side cursor: on PostgreSQL, reading a million assets through the
        cursor behind ``iterator()`` took 6 to 8 s where these pages take 2 to 3 s.
        """
        alive = Asset.objects.filter(scope=self.scope, gone_at__isnull=True).order_by("id")
        rows = alive.values_list("id", "key", "durable_hash", "volatile_hash")
        page = list(rows[:DIGEST_PAGE])
        yield from page
        while len(page) == DIGEST_PAGE:
            page = list(rows.filter(id__gt=page[-1][0])[:DIGEST_PAGE])
            yield from page

    def _write_assets(self) -> None:
        new_rows, changed = list(self._new_rows.values()), self._changed_rows
        self._new_rows, self._changed_rows = {}, {}
        with transaction.atomic():
            self._upsert(new_rows, changed)

    def _stored_fingerprints(self, keys: list[str]) -> dict[str, tuple]:
        """(id, durable hash, volatile hash, alive, scope id) of the stored assets among ``keys``:
        the few a re-sync did not recognise — new, changed, gone before or from another scope.

        Raw SQL with the keys as one JSON array: the ORM's ``key__in`` prepares and binds each of
        thousands of keys on its own, and on a re-sync that cost more than the lookup itself.
        """
        sql = (
            "SELECT key, id, durable_hash, volatile_hash, gone_at IS NULL, scope_id"
            f" FROM {Asset._meta.db_table} WHERE key IN ({KEYS_FROM_JSON[connection.vendor]})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [json.dumps(keys)])
            return {key: found for key, *found in cursor.fetchall()}

    def _upsert(self, new_rows: list[dict], changed: dict[int, dict]) -> None:
        prior = {
            r["id"]: r for r in Asset.objects.filter(id__in=list(changed)).values(*PRIOR_FIELDS)
        }
        decisions = TrackingDecision.objects.in_bulk(
            [p["decision_id"] for p in prior.values() if p["decision_id"]]
        )
        parent_ids = self._parent_ids([*new_rows, *changed.values()])
        assets, verdicts = [], {}
        for pk, row in [(None, r) for r in new_rows] + list(changed.items()):
            before = prior.get(pk)
            decision = decisions.get(before["decision_id"]) if before else None
            asset, verdicts[row["key"]] = self._build_asset(row, before, decision, parent_ids)
            assets.append(asset)

        Asset.objects.bulk_create(
            assets, update_conflicts=True, unique_fields=["key"], update_fields=UPSERT_FIELDS
        )
        self.counts["new"] += len(new_rows)
        self.counts["changed"] += len(changed)
        self._seen_ids.update(a.pk for a in assets)

        history = []
        for asset in assets:
            history.extend(self._history(asset, prior.get(asset.pk)))
        AssetChange.objects.bulk_create(history)
        sync_findings(assets, verdicts, self.now, reevaluated=list(changed))

    def _parent_ids(self, rows) -> dict[str, int]:
        """Ids of the stored parents that ``rows`` name, so that children are written linked
        instead of being rewritten by ``_link_parents`` afterwards."""
        keys = {row["parent_key"] for row in rows if row["parent_key"]}
        return dict(Asset.objects.filter(key__in=keys).values_list("key", "id")) if keys else {}

    def _build_asset(self, row, before, decision, parent_ids):
        owner = decide_owner(row, self.ownership_rules, decision)
        verdicts = evaluate(row, self.rule_context)
        durable_changed = before is None or before["durable_hash"] != row["durable_hash"]
        keeps_parent = before is not None and before["parent_key"] == row["parent_key"]
        kept_parent_id = before["parent_id"] if keeps_parent else None
        asset = Asset(
            pk=before["id"] if before else None,
            **row,
            source_id=self.scope.source_id,
            scope_id=self.scope.pk,
            parent_id=kept_parent_id or parent_ids.get(row["parent_key"]),
            first_seen=self.now,
            last_changed=self.now if durable_changed else before["last_changed"],
            gone_at=None,
            decision_id=decision.pk if decision else None,
            owner_id=owner.owner_id,
            owner_basis=owner.basis,
            owner_rule_id=owner.rule_id,
            tracking=owner.tracking,
            **rollup(verdicts),
        )
        return asset, verdicts

    def _change(self, asset, field, old, new):
        return AssetChange(
            asset_id=asset.pk,
            at=self.now,
            field=field,
            old=_json_value(old),
            new=_json_value(new),
            run=self.scope_run,
        )

    def _history(self, asset, before):
        """The timeline entries that writing ``asset`` over ``before`` makes."""
        Field = AssetChange.Field
        team = self.team_names.get
        if before is None:
            yield self._change(asset, Field.LIFECYCLE, None, "discovered")
            yield self._change(asset, Field.TRACKING, None, asset.tracking)
            if asset.owner_id:
                yield self._change(asset, Field.OWNER, None, team(asset.owner_id))
            if asset.exposed:
                yield self._change(asset, Field.EXPOSED, None, True)
            return
        if before["gone_at"] is not None:
            yield self._change(asset, Field.LIFECYCLE, "gone", "reappeared")
        if before["durable_hash"] != asset.durable_hash:
            for field in DURABLE_FIELDS:
                if before[field] != getattr(asset, field):
                    yield self._change(asset, field, before[field], getattr(asset, field))
        if before["owner_id"] != asset.owner_id:
            yield self._change(asset, Field.OWNER, team(before["owner_id"]), team(asset.owner_id))
        if before["tracking"] != asset.tracking:
            yield self._change(asset, Field.TRACKING, before["tracking"], asset.tracking)
        if before["exposed"] != asset.exposed:
            yield self._change(asset, Field.EXPOSED, before["exposed"], asset.exposed)

    def _mark_gone(self) -> None:
        """Mark gone the scope's assets that were alive when the run began and were not seen."""
        gone_ids = sorted(set(self._stored_digests().values()) - self._seen_ids)
        for start in range(0, len(gone_ids), self.batch_size):
            chunk = gone_ids[start : start + self.batch_size]
            with transaction.atomic():
                Asset.objects.filter(pk__in=chunk).update(
                    gone_at=self.now, exposed=False, eol=False, max_severity=None
                )
                AssetChange.objects.bulk_create(
                    AssetChange(
                        asset_id=pk,
                        at=self.now,
                        field=AssetChange.Field.LIFECYCLE,
                        old="present",
                        new="gone",
                        run=self.scope_run,
                    )
                    for pk in chunk
                )
                resolve_findings(Finding.objects.filter(asset_id__in=chunk), self.now)
        self.counts["gone"] += len(gone_ids)

    def _link_parents(self) -> None:
        """Point children at parents that arrived in a later batch, scope or run."""
        parent = Asset.objects.filter(key=OuterRef("parent_key"))
        Asset.objects.filter(scope=self.scope, parent__isnull=True).exclude(parent_key="").filter(
            Exists(parent)
        ).update(parent_id=Subquery(parent.values("id")[:1]))

    # --- access events ------------------------------------------------------------------------

    def _write_events(self) -> None:
        rows, self._pending_events = self._pending_events, {}
        self.counts["events"] += write_events(self.scope.source_id, rows)

    def _link_events(self) -> None:
        link_events(self.scope.source_id)


def write_events(source_id: int, rows: dict[tuple[str, str], dict]) -> int:
    """Store access events not stored yet (by provider and event id), linked to their asset
    where it is known. ``rows`` are ``normalize.event_row`` results keyed by (provider, id)."""
    known = set(
        AccessEvent.objects.filter(event_id__in=[event_id for _, event_id in rows]).values_list(
            "provider", "event_id"
        )
    )
    fresh = [row for ident, row in rows.items() if ident not in known]
    asset_ids = dict(
        Asset.objects.filter(key__in={r["asset_key"] for r in fresh if r["asset_key"]}).values_list(
            "key", "id"
        )
    )
    AccessEvent.objects.bulk_create(
        [
            AccessEvent(**row, source_id=source_id, asset_id=asset_ids.get(row["asset_key"]))
            for row in fresh
        ],
        ignore_conflicts=True,
    )
    return len(fresh)


def link_events(source_id: int) -> None:
    """Attach a source's events that arrived before the asset they are about."""
    asset = Asset.objects.filter(key=OuterRef("asset_key"))
    AccessEvent.objects.filter(source_id=source_id, asset__isnull=True).exclude(
        asset_key=""
    ).filter(Exists(asset)).update(asset_id=Subquery(asset.values("id")[:1]))


def record_events(source, records) -> tuple[int, list[str]]:
    """Store access events that arrive outside a collection (a webhook): no scope is read, so
    nothing can be marked gone. Returns how many events were new, and why each malformed
    record was refused (the others are stored)."""
    rows, refused = {}, []
    for record in records:
        try:
            row = event_row(record)
        except InvalidRecord as exc:
            refused.append(str(exc))
            continue
        rows[(row["provider"], row["event_id"])] = row
    return (write_events(source.pk, rows) if rows else 0), refused
