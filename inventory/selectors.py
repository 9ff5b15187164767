"""Read-side queries for the dashboard pages.

Each selector runs a fixed number of queries whatever the size of the estate: aggregates are done
by the database, related rows come with ``select_related``/``prefetch_related`` or subqueries,
and lists are bounded.
"""

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from celery.schedules import crontab
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

# The API's label lookup keeps the key a query parameter on every database; the dashboard's
# filters must behave exactly like the API's, so they share it.
from .eol import kubernetes_support, runtime_support
from .labels import filter_label
from .models import (
    AccessEvent,
    Asset,
    AssetChange,
    AssetKind,
    AuditLog,
    CollectionRun,
    Delivery,
    Finding,
    FindingStatus,
    NotificationChannel,
    NotificationRule,
    Provider,
    RunStatus,
    Scope,
    ScopeRun,
    Severity,
    Source,
    Team,
    TrackingStatus,
)
from .models.assets import SEVERITY_RANK
from .models.teams import UNOWNED_SLUG
from .schedules import parse_cron
from .scoping import EVERYTHING, Visibility
from .sql import Among
from .suggestions import Evidence, name_stem, suggest_owner
from .suggestions import Team as TeamFacts

RECENT_RUNS = 10
TIMELINE_LIMIT = 200
TEAM_ASSET_LIMIT = 50
UNHEALTHY = (RunStatus.FAILED, RunStatus.PARTIAL)
UNOWNED = UNOWNED_SLUG  # the owner filter's value for assets nobody owns

PROVIDER_LABELS = dict(Provider.choices)
KIND_LABELS = dict(AssetKind.choices)
KIND_ORDER = {kind: position for position, kind in enumerate(AssetKind.values)}


def live_assets():
    return Asset.objects.filter(gone_at__isnull=True)


def open_findings(team=None):
    """Open findings on live assets, of ``team``'s assets when given."""
    findings = Finding.objects.filter(status=FindingStatus.OPEN, asset__gone_at__isnull=True)
    return findings if team is None else findings.filter(asset__owner=team)


def _posture_counts():
    """Filtered counts shared by the overview totals, the provider rows and team pages."""
    # In a grouped query an annotation named like a field hides it from the annotations after
    # it, so the ones that read ``exposed`` and ``eol`` come before those named so.
    return {
        "exposed_untracked": Count("id", filter=Q(exposed=True, tracking=TrackingStatus.UNTRACKED)),
        "exposed_accepted": Count("id", filter=Q(exposed=True, tracking=TrackingStatus.ACCEPTED)),
        "total": Count("id"),
        "tracked": Count("id", filter=Q(tracking=TrackingStatus.TRACKED)),
        "untracked": Count("id", filter=Q(tracking=TrackingStatus.UNTRACKED)),
        "accepted": Count("id", filter=Q(tracking=TrackingStatus.ACCEPTED)),
        "exposed": Count("id", filter=Q(exposed=True)),
        "eol": Count("id", filter=Q(eol=True)),
    }


def _percent(part, whole):
    return round(100 * part / whole) if whole else None


# --- rollups: whole-estate aggregates, kept until the data changes ----------------------------

# How long a rollup is kept at most (DAYLIGHT_ROLLUP_TTL): what bounds its staleness. Celery beat
# counts them all again before then (DAYLIGHT_ROLLUP_REFRESH, inventory.tasks.warm_rollups).
ROLLUP_TTL = settings.DAYLIGHT_ROLLUP_TTL
# Part of every rollup's key: raise it when what a rollup holds changes shape, so a new release
# never reads figures cached by the one before.
ROLLUP_VERSION = 4


def data_stamp() -> str:
    """A value that changes whenever what the estate-wide aggregates count may have changed: a
    scope finished a collection, an asset's history grew (ingest, re-evaluation and decisions
    all write history), a finding opened, or a person decided or configured something (each
    leaves an audit row). One query, on a small table and four primary keys; its parts, in
    this order, are what ``stamp_with_own_writes`` replaces."""
    tables = [model._meta.db_table for model in (Scope, AssetChange, Finding, AuditLog)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(last_run_at) FROM {tables[0]}), (SELECT COUNT(*) FROM "
            f"{tables[0]}), (SELECT MAX(id) FROM {tables[1]}), (SELECT MAX(id) FROM "
            f"{tables[2]}), (SELECT MAX(id) FROM {tables[3]})"
        )
        return "|".join(str(value) for value in cursor.fetchone())


def stamp_with_own_writes(stamp: str, last_change: int | None, last_entry: int | None) -> str:
    """``stamp`` as ``data_stamp`` reads it once a transaction wrote history up to the id
    ``last_change``, audit rows up to ``last_entry`` (None: none) and nothing else it sees."""
    parts = stamp.split("|")
    for position, last in ((2, last_change), (4, last_entry)):
        if last is not None:
            parts[position] = str(last)
    return "|".join(parts)


def _rollup_key(name: str, stamp: str) -> str:
    database = settings.DATABASES["default"]["NAME"]
    identity = f"{ROLLUP_VERSION}|{database}|{name}|{stamp}"
    return f"daylight:rollup:{hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()}"


# True while ``warm_rollups(recount=True)`` runs: every rollup is counted and cached afresh.
_recounting = ContextVar("recounting_rollups", default=False)


def rollup(name: str, stamp: str, build):
    """``build()``'s result, computed once per ``stamp`` (and at most every ``ROLLUP_TTL``
    seconds, which bounds staleness for writes no stamp sees, like a finding resolved by the
    nightly re-evaluation). Counting a million rows is what this saves on every page view.
    Cached with when it was counted, which figures carried over a decision keep. While
    ``warm_rollups(recount=True)`` runs it counts even when the figures are cached, and
    replaces them: what they say now, kept for ``ROLLUP_TTL`` from now."""
    key = _rollup_key(name, stamp)
    cached = None if _recounting.get() else cache.get(key)
    if cached is None:
        cached = (build(), timezone.now().timestamp())
        cache.set(key, cached, ROLLUP_TTL)
    return cached[0]


# --- freshness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """How current the numbers are: the stalest successful collection among enabled scopes, and
    how many scopes did not collect on their last run (or never did)."""

    scopes: int
    oldest_success: datetime | None
    newest_success: datetime | None
    failing: int
    never: int

    @property
    def healthy(self) -> bool:
        return self.scopes > 0 and not self.failing and not self.never

    @property
    def not_collected(self) -> int:
        return self.failing + self.never


def freshness() -> Freshness:
    row = Scope.objects.filter(source__enabled=True).aggregate(
        scopes=Count("id"),
        oldest_success=Min("last_success_at"),
        newest_success=Max("last_success_at"),
        failing=Count("id", filter=Q(last_status__in=UNHEALTHY)),
        never=Count("id", filter=Q(last_success_at__isnull=True) & ~Q(last_status__in=UNHEALTHY)),
    )
    return Freshness(**row)


# --- overview -------------------------------------------------------------------------------


def provider_kind_matrix(live=None):
    """Live assets (``live``, by default all) counted per provider and kind, with per-provider
    posture columns.

    Returns (kinds, rows, totals): ``kinds`` are (value, label) pairs in the canonical kind order,
    each row holds the provider's counts per kind and its untracked/exposed/EOL counts.
    """
    grouped = list(
        (live_assets() if live is None else live)
        .values("provider", "kind")
        .annotate(**_posture_counts())
        .order_by("provider", "kind")
    )
    kinds = sorted(
        {row["kind"] for row in grouped}, key=lambda k: KIND_ORDER.get(k, len(KIND_ORDER))
    )
    rows = {}
    for group in grouped:
        row = rows.setdefault(
            group["provider"],
            {
                "provider": group["provider"],
                "label": PROVIDER_LABELS.get(group["provider"], group["provider"]),
                "by_kind": dict.fromkeys(kinds, 0),
                "total": 0,
                "untracked": 0,
                "exposed": 0,
                "exposed_untracked": 0,
                "exposed_accepted": 0,
                "eol": 0,
            },
        )
        row["by_kind"][group["kind"]] = group["total"]
        for name in (
            "total",
            "untracked",
            "exposed",
            "exposed_untracked",
            "exposed_accepted",
            "eol",
        ):
            row[name] += group[name]
    for row in rows.values():
        row["cells"] = [(kind, row["by_kind"][kind]) for kind in kinds]
    totals = {
        "cells": [(kind, sum(r["by_kind"][kind] for r in rows.values())) for kind in kinds],
        **{n: sum(r[n] for r in rows.values()) for n in ("total", "untracked", "exposed", "eol")},
    }
    ordered = sorted(rows.values(), key=lambda r: (-r["total"], r["label"]))
    return [(kind, KIND_LABELS.get(kind, kind)) for kind in kinds], ordered, totals


def live_assets_per_scope(stamp=None, visible: Visibility = EVERYTHING) -> dict[int, int]:
    """Live (visible) assets per scope id, counted once per change of the data."""
    live = visible.assets(live_assets())
    return rollup(
        f"live-per-scope:{visible.key}",
        stamp or data_stamp(),
        lambda: dict(live.values_list("scope_id").annotate(count=Count("id")).order_by()),
    )


def _latest_scope_run():
    return ScopeRun.objects.filter(scope=OuterRef("pk")).order_by("-started_at", "-id")


def _latest_run():
    return CollectionRun.objects.filter(source=OuterRef("pk")).order_by("-started_at", "-id")


def collection_health(stamp=None, visible: Visibility = EVERYTHING):
    """Every source with its last run and, per scope, its last status, last successful
    collection, live (visible) asset count and the error of its latest run."""
    scopes = Scope.objects.annotate(
        last_error=Subquery(_latest_scope_run().values("error")[:1]),
    ).order_by("key")
    live_counts = live_assets_per_scope(stamp, visible)
    sources = (
        Source.objects.annotate(
            last_run_status=Subquery(_latest_run().values("status")[:1]),
            last_run_started=Subquery(_latest_run().values("started_at")[:1]),
            last_run_finished=Subquery(_latest_run().values("finished_at")[:1]),
            last_run_error=Subquery(_latest_run().values("error")[:1]),
        )
        .prefetch_related(Prefetch("scopes", queryset=scopes))
        .order_by("name")
    )
    health = []
    for source in sources:
        source_scopes = list(source.scopes.all())
        for scope in source_scopes:
            scope.live_assets = live_counts.get(scope.pk, 0)
        unhealthy = [s for s in source_scopes if s.last_status in UNHEALTHY]
        successes = [s.last_success_at for s in source_scopes if s.last_success_at]
        health.append(
            {
                "source": source,
                "scopes": source_scopes,
                "unhealthy": len(unhealthy),
                "collected": sum(1 for s in source_scopes if s.last_success_at),
                "oldest_success": min(successes, default=None),
                # Show the scope list unfolded when something needs attention or it is short.
                "expanded": bool(unhealthy) or len(source_scopes) <= 12,
            }
        )
    return health


def recent_runs(limit=RECENT_RUNS):
    return list(
        CollectionRun.objects.select_related("source").order_by("-started_at", "-id")[:limit]
    )


NEW_DAYS = 7
# Lifecycle findings the overview counts, in the order it shows them, with how it names them.
LIFECYCLE_RULES = {
    "runtime-eol": "End-of-life runtimes",
    "runtime-deprecating": "Runtimes losing support within 180 days",
    "platform-eol": "End-of-life cluster and engine versions",
    "stale-function": "Stale functions (not changed or invoked for {days} days)",
}


def _overview_counts(new_since):
    """What the overview adds to the posture counts: new assets and assets by worst finding."""
    return {
        "new": Count("id", filter=Q(first_seen__gte=new_since)),
        **{
            f"worst_{value}": Count("id", filter=Q(max_severity=value)) for value in Severity.values
        },
    }


def lifecycle_findings(team=None, visible: Visibility = EVERYTHING) -> list[tuple[str, str, int]]:
    """(rule, label, count): open findings on live visible assets (of ``team``, when given)
    for the lifecycle rules (EOL, deprecating, stale)."""
    counts = dict(
        visible.about(open_findings(team))
        .filter(rule__in=list(LIFECYCLE_RULES))
        .values_list("rule")
        .annotate(count=Count("id"))
        .order_by()
    )
    days = settings.DAYLIGHT_STALE_DAYS
    return [
        (rule, label.format(days=days), counts.get(rule, 0))
        for rule, label in LIFECYCLE_RULES.items()
    ]


UNCOVERED_SHOWN = 8


def _uncovered_accounts(live):
    """Accounts an organization listing reported that no enabled source collects (as
    ``inventory.coverage`` defines them, in one query): places where workloads could run with
    nobody looking. (how many, the first few)."""
    covered = Scope.objects.filter(source__enabled=True).exclude(account="").values("account")
    accounts = list(
        live.filter(kind=AssetKind.ACCOUNT)
        .exclude(account__in=Subquery(covered))
        .order_by("provider", "account")
        .only("id", "name", "provider", "account")
    )
    return len(accounts), accounts[:UNCOVERED_SHOWN]


def _estate_figures(today, visible: Visibility = EVERYTHING):
    """The overview's counting over every live visible asset: posture, providers by kind,
    lifecycle."""
    new_since = today - timedelta(days=NEW_DAYS)
    live = visible.assets(live_assets())
    totals = live.aggregate(**_posture_counts(), **_overview_counts(_day_start(new_since)))
    kinds, matrix, matrix_totals = provider_kind_matrix(live)
    return {
        "totals": totals,
        "new_since": new_since,
        "kinds": kinds,
        "matrix": matrix,
        "matrix_totals": matrix_totals,
        "lifecycle": lifecycle_findings(visible=visible),
        "uncovered": _uncovered_accounts(live),
    }


TREND_DAYS = (30, 90)


def _daily(queryset, **counts):
    """``counts`` per UTC day of ``at``, as {date: {name: n}}."""
    rows = queryset.annotate(day=TruncDate("at")).values("day").annotate(**counts).order_by()
    return {row.pop("day"): row for row in rows}


def untracked_series(
    days: int, current: int, now=None, visible: Visibility = EVERYTHING
) -> list[tuple[date, int]]:
    """Live untracked (visible) assets at the end of each of the last ``days`` days (today: now),
    counted back from ``current`` through the history: a tracking change adds or removes one,
    an untracked asset going or coming back removes or adds one. (Whether an asset that went
    was untracked is read from its tracking now: decisions about gone assets are rare.)"""
    today = (now or timezone.now()).date()
    first = today - timedelta(days=days - 1)
    since = _day_start(first + timedelta(days=1))
    changes = visible.about(AssetChange.objects.all())
    tracking = _daily(
        changes.filter(field=AssetChange.Field.TRACKING, at__gte=since),
        became=Count("id", filter=Q(new=TrackingStatus.UNTRACKED)),
        left=Count("id", filter=Q(old=TrackingStatus.UNTRACKED)),
    )
    lifecycle = _daily(
        changes.filter(
            field=AssetChange.Field.LIFECYCLE,
            at__gte=since,
            asset__tracking=TrackingStatus.UNTRACKED,
        ),
        went=Count("id", filter=Q(new="gone")),
        returned=Count("id", filter=Q(new="reappeared")),
    )
    series, count = [], current
    for offset in range(days):
        day = today - timedelta(days=offset)
        series.append((day, count))
        moves, comings = tracking.get(day, {}), lifecycle.get(day, {})
        count -= moves.get("became", 0) - moves.get("left", 0)
        count -= comings.get("returned", 0) - comings.get("went", 0)
    return list(reversed(series))


def untracked_trend(days: int, current: int, stamp=None, now=None, visible=EVERYTHING):
    today = (now or timezone.now()).date()
    return rollup(
        f"untracked-trend:{today}:{days}:{current}:{visible.key}",
        stamp or data_stamp(),
        lambda: untracked_series(days, current, now, visible),
    )


def overview(now=None, visible: Visibility = EVERYTHING) -> dict:
    """The overview's figures, counted over the assets ``visible`` lets its reader see."""
    today = (now or timezone.now()).date()
    stamp = data_stamp()
    figures = rollup(
        f"overview:{today}:{visible.key}", stamp, lambda: _estate_figures(today, visible)
    )
    totals = figures["totals"]
    accounted = totals["tracked"] + totals["accepted"]
    return {
        **figures,
        "coverage": _percent(accounted, totals["total"]),
        "accounted": accounted,
        "untracked_share": _percent(totals["untracked"], totals["total"]),
        "by_severity": [
            (value, label, totals[f"worst_{value}"]) for value, label in reversed(Severity.choices)
        ],
        "health": collection_health(stamp, visible),
        "recent_runs": recent_runs(),
        "stamp": stamp,
    }


# --- asset ----------------------------------------------------------------------------------


def asset_for_page(pk, assets=None):
    """The asset (one of ``assets``, by default any) with everything its page shows about it
    in the same row."""
    assets = Asset.objects.all() if assets is None else assets
    return assets.select_related(
        "owner", "scope__source", "parent", "decision__decided_by", "decision__team", "owner_rule"
    ).get(pk=pk)


def _sorted_items(mapping):
    """A dict's items as sorted pairs: templates must never look up attacker-chosen keys (a tag
    called "items" would shadow ``dict.items``)."""
    if not isinstance(mapping, dict):
        return []
    return sorted(mapping.items(), key=lambda item: str(item[0]))


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an asset's timeline: a change (by a collection or a person), an access
    event from the provider's audit trail, or a platform report (a Kubernetes Event)."""

    at: datetime
    change: AssetChange | None = None
    event: AccessEvent | None = None
    report: dict | None = None


def platform_reports(asset) -> list[tuple[datetime, dict]]:
    """What the platform recently reported about the asset (``observed["recent_events"]``,
    replaced at every collection), with their times; malformed entries are passed over."""
    reports = (asset.observed or {}).get("recent_events")
    found = []
    for report in reports if isinstance(reports, list) else []:
        try:
            at = datetime.fromisoformat(report["at"])
        except (KeyError, TypeError, ValueError):
            continue
        if at.tzinfo is not None:
            found.append((at, report))
    return found


def timeline(changes, events, limit=TIMELINE_LIMIT, reports=()) -> list[TimelineEntry]:
    """Changes, access events and platform reports merged, newest first (changes first within
    the same moment: an event is usually what caused the change seen at the next collection)."""
    entries = [TimelineEntry(c.at, change=c) for c in changes]
    entries += [TimelineEntry(e.occurred_at, event=e) for e in events]
    entries += [TimelineEntry(at, report=report) for at, report in reports]
    entries.sort(key=lambda e: (e.at, e.change is not None), reverse=True)
    return entries[:limit]


def asset_detail(asset, visible: Visibility = EVERYTHING) -> dict:
    """What an asset's page shows besides the asset: its parent and children only when
    ``visible`` (another team's cluster is not named on a page its reader may see)."""
    parent_seen = asset.parent is None or visible.sees(asset.parent)
    findings = list(
        Finding.objects.filter(asset=asset).order_by("status", "-severity", "-opened_at", "-id")
    )
    return {
        "open_findings": [f for f in findings if f.status == FindingStatus.OPEN],
        "resolved_findings": [f for f in findings if f.status != FindingStatus.OPEN],
        "labels": _sorted_items(asset.labels),
        "security": _sorted_items(asset.security),
        "attributes": _sorted_items(asset.attributes),
        "endpoints": [e for e in asset.endpoints if isinstance(e, dict)],
        "timeline": timeline(
            AssetChange.objects.filter(asset=asset).select_related("actor")[:TIMELINE_LIMIT],
            AccessEvent.objects.filter(asset=asset)[:TIMELINE_LIMIT],
            reports=platform_reports(asset),
        ),
        "parent": asset.parent if parent_seen else None,
        "parent_key": asset.parent_key if parent_seen else "",
        "children": list(
            visible.assets(asset.children.filter(gone_at__isnull=True)).order_by("kind", "name")[
                :TIMELINE_LIMIT
            ]
        ),
    }


# --- teams ----------------------------------------------------------------------------------


def _team_figures() -> dict:
    """Per owning team id (None: unowned): posture counts, assets with open findings, and
    counts by kind. Two grouped scans of the live estate."""
    figures = {}
    for row in (
        live_assets()
        .values("owner_id")
        .annotate(**_posture_counts(), with_findings=Count("id", filter=Q(max_severity__gte=0)))
        .order_by()
    ):
        owner_id = row.pop("owner_id")
        figures[owner_id] = {**row, "by_kind": {}}
    for owner_id, kind, count in (
        live_assets().values_list("owner_id", "kind").annotate(count=Count("id")).order_by()
    ):
        figures[owner_id]["by_kind"][kind] = count
    return figures


def team_figures() -> dict:
    return rollup("teams", data_stamp(), _team_figures)


EMPTY_TEAM = {
    "total": 0,
    "tracked": 0,
    "untracked": 0,
    "accepted": 0,
    "exposed": 0,
    "eol": 0,
    "with_findings": 0,
    "by_kind": {},
}


def _kinds_in_order(by_kind: dict) -> list[tuple[str, str, int]]:
    """(kind, label, count), largest first."""
    return sorted(
        ((kind, KIND_LABELS.get(kind, kind), count) for kind, count in by_kind.items()),
        key=lambda item: (-item[2], KIND_ORDER.get(item[0], 99)),
    )


def teams(visible: Visibility = EVERYTHING) -> dict:
    """Every (visible) team with its live assets counted by kind, exposure, end of life and
    findings, and the unowned assets as a row of their own. A visible team's assets are all
    visible, so its figures are the estate-wide ones."""
    figures = team_figures()
    rows = []
    for team in visible.teams(Team.objects.order_by("name")):
        team.figures = figures.get(team.pk, EMPTY_TEAM)
        team.kinds = _kinds_in_order(team.figures["by_kind"])
        rows.append(team)
    unowned = figures.get(None, EMPTY_TEAM)
    shown = [unowned, *(team.figures for team in rows)]
    return {
        "teams": rows,
        "unowned": unowned,
        "unowned_kinds": _kinds_in_order(unowned["by_kind"]),
        "kinds": [
            (kind, label)
            for kind, label in AssetKind.choices
            if any(kind in f["by_kind"] for f in shown)
        ],
    }


def untracked_count() -> int:
    return team_figures().get(None, EMPTY_TEAM)["untracked"]


def _owned(owner_id, owned) -> dict:
    """What a team's page and the unowned page show alike: the cached figures of ``owner_id``
    (None: unowned) and the first of its live assets by name, out of ``owned``."""
    figures = team_figures().get(owner_id, EMPTY_TEAM)
    return {
        "totals": figures,
        "by_kind": _kinds_in_order(figures["by_kind"]),
        "assets": list(
            owned.filter(gone_at__isnull=True)
            .select_related("scope")
            .order_by("name", "id")[:TEAM_ASSET_LIMIT]
        ),
        "asset_limit": TEAM_ASSET_LIMIT,
    }


def team_detail(team, assets=None) -> dict:
    """The team's figures, its members, and the first of its live assets (out of ``assets``,
    by default all)."""
    assets = Asset.objects.all() if assets is None else assets
    return {
        **_owned(team.pk, assets.filter(owner=team)),
        "members": list(
            team.members.order_by("username").only("username", "first_name", "last_name")
        ),
    }


def unowned_detail(assets=None) -> dict:
    """The team-like figures of the assets nobody owns (untracked, and accepted for no team),
    and the first of them (out of ``assets``, by default all). Every visibility holds the whole
    unowned pool, so the figures are the estate's, as on the Teams list."""
    assets = Asset.objects.all() if assets is None else assets
    return _owned(None, assets.filter(owner__isnull=True))


# --- assets explorer ------------------------------------------------------------------------


def _day_start(day):
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _version_prefix(field, value):
    """``value`` itself or any finer version of it: "1.27" matches "1.27.3" and "1.27-eks",
    never "1.270"."""
    return (
        Q(**{field: value})
        | Q(**{f"{field}__startswith": f"{value}."})
        | Q(**{f"{field}__startswith": f"{value}-"})
    )


# Filters that compare one column with the value as given.
_EXACT_FILTERS = {
    "provider": "provider",
    "kind": "kind",
    "account": "account",
    "region": "region",
    "namespace": "namespace",
    "tracking": "tracking",
    "runtime": "runtime",
    "creator": "creator",
    "source": "source__name",
    "scope": "scope_id",
    "severity": "max_severity",
}


# What assets run on: the "runs on" filter names one of these.
HOST_KINDS = (AssetKind.CLUSTER, AssetKind.DOCKER_HOST)


def running_on(host: str, visible: Visibility = EVERYTHING) -> Among:
    """The condition "runs on the cluster or Docker host ``host``": is a child of it (a
    workload, a function, a standalone task's or a Docker host's container) or a child of one
    of those (a workload's containers), the two levels collectors nest under a host.

    ``host`` is a host's key, or else its name: every cluster and host so named, in whatever
    account (the account filter narrows them). A key is the provider's, and unique; a name is
    anyone's to choose, so a host named like another's key is not taken for it. Only hosts
    ``visible`` sees are looked up: another team's cluster is not confirmed by its name.

    Each level is read through an index, whatever the estate's size: the hosts by key or name,
    their children by parent, and the assets by parent again (``Among``: on PostgreSQL arrays
    built once, before the listing, then ``parent_id = ANY(...)``)."""
    hosts = visible.assets(Asset.objects.filter(kind__in=HOST_KINDS)).order_by()
    by_key = hosts.filter(key=host)
    named = hosts.filter(Q(key=host) | (Q(name=host) & ~Exists(by_key))).values("pk")
    children = Asset.objects.filter(Among(F("parent_id"), named)).order_by().values("pk")
    return Among(F("parent_id"), named, children)


def assets_matching(criteria: dict, visible: Visibility = EVERYTHING):
    """Assets narrowed by the explorer's ``criteria`` (see ``dashboard.filters``), annotated
    with ``severity_rank`` (worst open finding, -1 for none) for sorting. Live assets only
    unless ``state`` says "gone" or "all". The text search, ``q``, is not applied here:
    ``inventory.search`` narrows the result last (it looks its matches up among these).
    ``visible`` bounds the hosts that ``runs_on`` may name; the caller narrows the assets."""
    queryset = Asset.objects.annotate(severity_rank=SEVERITY_RANK)
    state = criteria.get("state", "live")
    if state == "live":
        queryset = queryset.filter(gone_at__isnull=True)
    elif state == "gone":
        queryset = queryset.filter(gone_at__isnull=False)
    for name, column in _EXACT_FILTERS.items():
        if name in criteria:
            queryset = queryset.filter(**{column: criteria[name]})
    if host := criteria.get("runs_on"):
        queryset = queryset.filter(running_on(host, visible))
    if owner := criteria.get("owner"):
        if owner == UNOWNED:
            queryset = queryset.filter(owner__isnull=True)
        else:
            queryset = queryset.filter(owner__slug=owner)
    for flag in ("exposed", "eol"):
        if flag in criteria:
            queryset = queryset.filter(**{flag: criteria[flag] == "yes"})
    if "min_severity" in criteria:
        queryset = queryset.filter(max_severity__gte=criteria["min_severity"])
    if rule := criteria.get("finding"):
        open_finding = Finding.objects.filter(
            asset=OuterRef("pk"), rule=rule, status=FindingStatus.OPEN
        )
        queryset = queryset.filter(Exists(open_finding))
    if version := criteria.get("version"):
        queryset = queryset.filter(_version_prefix("platform_version", version))
    if image := criteria.get("image"):
        queryset = queryset.filter(
            Q(image=image) | Q(image__startswith=f"{image}:") | Q(image__startswith=f"{image}@")
        )
    if label := criteria.get("label"):
        queryset = filter_label(queryset, label)
    if after := criteria.get("first_seen_after"):
        queryset = queryset.filter(first_seen__gte=_day_start(after))
    if before := criteria.get("first_seen_before"):
        queryset = queryset.filter(first_seen__lt=_day_start(before))
    return queryset


def asset_rows(queryset):
    """What a list row of assets shows: the owner's name and the scope's freshness come along."""
    return queryset.select_related("owner", "scope").defer(
        "attributes", "observed", "security", "endpoints", "durable_hash", "volatile_hash"
    )


def team_choices() -> list[tuple[str, str]]:
    return list(Team.objects.order_by("name").values_list("slug", "name"))


# --- reconciliation queue -------------------------------------------------------------------

QUEUE_SIMILAR_SAMPLE = 25  # owned assets sampled per name stem
QUEUE_SIMILAR_SHOWN = 3
MIN_STEM = 2


UNCLAIMED_DAYS = 30


def untracked_queue(criteria: dict):
    """Live untracked assets narrowed by the explorer's ``criteria``. The queue ranks them by
    what makes shadow IT dangerous, in this order: reachable from the internet, the worst open
    finding (privileged containers and admin roles are critical or high findings), an
    end-of-life runtime or version, and then the longest unclaimed (see ``QUEUE_RANKING``)."""
    return assets_matching({**criteria, "state": "live", "tracking": TrackingStatus.UNTRACKED})


def risk_reasons(asset, now=None) -> list[tuple[str, str]]:
    """(kind, words) for why an untracked asset ranks where it does."""
    now = now or timezone.now()
    reasons = []
    if asset.exposed:
        reasons.append(("exposed", "Reachable from the internet"))
    if asset.max_severity is not None and asset.max_severity >= Severity.MEDIUM:
        label = Severity(asset.max_severity).label
        reasons.append(("finding", f"{label} finding open"))
    if asset.eol:
        reasons.append(("eol", "End-of-life runtime or version"))
    unclaimed = (now - asset.first_seen).days
    if unclaimed > UNCLAIMED_DAYS:
        reasons.append(("age", f"Unclaimed for {unclaimed} days"))
    return reasons


def _collections_stamp() -> str:
    """Changes when a scope finishes a collection: enough for figures that decisions barely
    move, like who owns most of an account."""
    row = Scope.objects.aggregate(last=Max("last_run_at"), scopes=Count("id"))
    return f"{row['last']}|{row['scopes']}"


def _owner_tally(field):
    """({value: {team id: live assets it owns}}, {value: live assets}) for one column."""
    rows = (
        live_assets()
        .exclude(**{field: ""})
        .values_list(field, "owner_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    tally: dict[str, dict[int, int]] = {}
    totals: dict[str, int] = {}
    for value, owner_id, count in rows:
        totals[value] = totals.get(value, 0) + count
        if owner_id is not None:
            tally.setdefault(value, {})[owner_id] = count
    return tally, totals


def _tallies():
    tallies = {}
    for field in ("creator", "namespace", "account"):
        tallies[field], totals = _owner_tally(field)
        if field == "creator":
            tallies["created"] = totals
    return tallies


def ownership_tallies() -> dict:
    """For every creator, namespace and account: how many of its live owned assets each team
    owns; and how many live assets each creator made. Grouped scans of the estate, kept until
    the next collection (a decision barely moves them)."""
    return rollup("ownership-tallies", _collections_stamp(), _tallies)


def _stem_range(stem):
    """Names that start with ``stem``, as a range an index on name can seek (the bound after the
    stem is the stem with its last character raised); ``startswith`` keeps the match exact
    whatever the collation."""
    upper = stem[:-1] + chr(ord(stem[-1]) + 1)
    return Q(name__gte=stem, name__lt=upper, name__startswith=stem)


def similar_named(stems, visible: Visibility = EVERYTHING) -> dict[str, list[tuple[str, int, int]]]:
    """For each name stem, up to ``QUEUE_SIMILAR_SAMPLE`` live owned (visible) assets whose
    name starts with it, as (name, owner id, asset id): one statement of bounded samples, so a
    stem shared by a hundred thousand assets costs what a rare one does."""
    stems = sorted({stem for stem in stems if len(stem) >= MIN_STEM})
    if not stems:
        return {}
    parts, params = [], []
    for stem in stems:
        sample = (
            visible.assets(live_assets())
            .filter(_stem_range(stem), owner__isnull=False)
            .annotate(stem=Value(stem, output_field=CharField()))
            # by name alone: the index on name gives that order, so the sample stops early
            .order_by("name")
            .values_list("stem", "name", "owner_id", "id")[:QUEUE_SIMILAR_SAMPLE]
        )
        sql, sample_params = sample.query.sql_with_params()
        parts.append(f"SELECT * FROM ({sql}) AS sample_{len(parts)}")
        params.extend(sample_params)
    found: dict[str, list] = {stem: [] for stem in stems}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for stem, name, owner_id, pk in cursor.fetchall():
            found[stem].append((name, owner_id, pk))
    return found


def _first_and_last_actors(ids):
    events = AccessEvent.objects.filter(asset=OuterRef("pk")).exclude(actor="")
    return {
        row["id"]: row
        for row in Asset.objects.filter(pk__in=ids)
        .annotate(
            first_actor=Subquery(events.order_by("occurred_at", "id").values("actor")[:1]),
            last_actor=Subquery(events.order_by("-occurred_at", "-id").values("actor")[:1]),
            last_event_at=Subquery(
                events.order_by("-occurred_at", "-id").values("occurred_at")[:1]
            ),
        )
        .values("id", "first_actor", "last_actor", "last_event_at")
    }


def _visible_tallies(visible: Visibility) -> dict:
    """The ownership tallies, keeping only the counts of visible teams: a scoped reconciler's
    suggestions weigh their own teams' assets, never count another team's."""
    tallies = ownership_tallies()
    if visible.everything:
        return tallies
    mine = set(visible.team_ids)
    return {
        field: {
            value: {team: n for team, n in tally.items() if team in mine}
            for value, tally in by_value.items()
        }
        for field, by_value in tallies.items()
        if field != "created"
    }


def queue_evidence(rows, teams, visible: Visibility = EVERYTHING) -> dict[int, dict]:
    """Per asset on a queue page: the creator (collected, or the first actor in its access
    history), its last actor, owned (visible) assets named like it, and the suggested owner. A
    fixed number of queries for the page, whatever the estate."""
    team_facts = [TeamFacts(t.pk, t.slug, t.name) for t in teams]
    team_names = {t.pk: t for t in teams}
    actors = _first_and_last_actors([row.pk for row in rows])
    stems = {row.pk: name_stem(row.name) for row in rows}
    similar = similar_named(stems.values(), visible)
    tallies = _visible_tallies(visible)
    evidence = {}
    for row in rows:
        seen = actors.get(row.pk, {})
        creator = row.creator or seen.get("first_actor") or ""
        stem = stems[row.pk]
        alike = [s for s in similar.get(stem, []) if s[2] != row.pk and name_stem(s[0]) == stem]
        name_tally: dict[int, int] = {}
        for _, owner_id, _ in alike:
            name_tally[owner_id] = name_tally.get(owner_id, 0) + 1
        facts = Evidence(
            labels=row.labels if isinstance(row.labels, dict) else {},
            creator=creator,
            namespace=row.namespace,
            account=row.account,
            stem=stem,
            creator_tally=tallies["creator"].get(creator, {}),
            namespace_tally=tallies["namespace"].get(row.namespace, {}),
            account_tally=tallies["account"].get(row.account, {}),
            name_tally=name_tally,
        )
        suggestion = suggest_owner(facts, team_facts)
        evidence[row.pk] = {
            "creator": creator,
            "creator_from_events": bool(creator) and not row.creator,
            "last_actor": seen.get("last_actor") or "",
            "last_event_at": seen.get("last_event_at"),
            "similar": [
                (name, team_names.get(owner_id), pk)
                for name, owner_id, pk in alike[:QUEUE_SIMILAR_SHOWN]
            ],
            "similar_count": len(alike),
            "labels": _sorted_items(row.labels),
            "suggestion": suggestion,
            "suggested_team": team_names.get(suggestion.team_id) if suggestion else None,
        }
    return evidence


def teams_for_choice(member=None) -> list[Team]:
    """Every team, by name; each says (``mine``) whether ``member`` is one of its people, in
    the same query."""
    teams = Team.objects.order_by("name").only("id", "slug", "name")
    if member is not None and member.is_authenticated:
        membership = Team.members.through.objects.filter(team=OuterRef("pk"), user=member.pk)
        teams = teams.annotate(mine=Exists(membership))
    else:
        teams = teams.annotate(mine=Value(False))
    return list(teams)


def my_teams(teams: list[Team]) -> list[Team]:
    """The teams ``teams_for_choice(member)`` found ``member`` in: whom they may claim for."""
    return [team for team in teams if team.mine]


# --- sources and runs -----------------------------------------------------------------------

SEARCH_DAYS = 366


def next_run(expression: str, after: datetime) -> datetime | None:
    """The first minute after ``after`` (UTC) that the cron ``expression`` fires, as Celery
    beat reads it (every field must match), within a year; None if it never does or the
    expression is not valid."""
    try:
        schedule = crontab(**parse_cron(expression))
    except ValueError:
        return None
    start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    for _ in range(SEARCH_DAYS):
        weekday = (day.weekday() + 1) % 7  # cron counts from Sunday
        if (
            day.month in schedule.month_of_year
            and day.day in schedule.day_of_month
            and weekday in schedule.day_of_week
        ):
            for hour in sorted(schedule.hour):
                for minute in sorted(schedule.minute):
                    moment = day.replace(hour=hour, minute=minute)
                    if moment >= start:
                        return moment
        day += timedelta(days=1)
    return None


def live_assets_per_source(visible: Visibility = EVERYTHING) -> dict[int, int]:
    counts = live_assets_per_scope(visible=visible)
    per_source: dict[int, int] = {}
    for scope_id, source_id in Scope.objects.values_list("id", "source_id"):
        per_source[source_id] = per_source.get(source_id, 0) + counts.get(scope_id, 0)
    return per_source


def sources_page(now=None, visible: Visibility = EVERYTHING) -> list[Source]:
    """Every source with its schedule's next run, its last run, its scopes' state and its
    live (visible) assets."""
    now = now or timezone.now()
    live = live_assets_per_source(visible)
    sources = list(
        Source.objects.annotate(
            last_run_id=Subquery(_latest_run().values("id")[:1]),
            last_run_status=Subquery(_latest_run().values("status")[:1]),
            last_run_started=Subquery(_latest_run().values("started_at")[:1]),
            last_run_finished=Subquery(_latest_run().values("finished_at")[:1]),
            last_run_error=Subquery(_latest_run().values("error")[:1]),
            scope_count=Count("scopes"),
            failing=Count("scopes", filter=Q(scopes__last_status__in=UNHEALTHY)),
            collected=Count("scopes", filter=Q(scopes__last_success_at__isnull=False)),
            oldest_success=Min("scopes__last_success_at"),
        ).order_by("name")
    )
    for source in sources:
        source.live_assets = live.get(source.pk, 0)
        source.next_run = next_run(source.schedule, now) if source.enabled else None
        if source.last_run_started and source.last_run_finished:
            source.last_run_took = source.last_run_finished - source.last_run_started
        else:
            source.last_run_took = None
    return sources


def runs(source=None, status=""):
    """Collection runs, newest first, narrowed to one source or status."""
    queryset = CollectionRun.objects.select_related("source")
    if source is not None:
        queryset = queryset.filter(source=source)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def source_scopes(source, visible: Visibility = EVERYTHING) -> list[Scope]:
    """A source's scopes with their live (visible) asset counts and their latest run's error."""
    live = live_assets_per_scope(visible=visible)
    scopes = list(
        Scope.objects.filter(source=source)
        .annotate(last_error=Subquery(_latest_scope_run().values("error")[:1]))
        .order_by("key")
    )
    for scope in scopes:
        scope.live_assets = live.get(scope.pk, 0)
    return scopes


def run_detail(pk) -> CollectionRun:
    return (
        CollectionRun.objects.select_related("source")
        .prefetch_related(
            Prefetch("scope_runs", ScopeRun.objects.select_related("scope").order_by("scope__key"))
        )
        .get(pk=pk)
    )


# --- audit log ------------------------------------------------------------------------------

# Actions the services write, as people would say them.
AUDIT_ACTIONS = {
    "asset.assign": "Assigned to a team",
    "asset.claim": "Claimed for their team",
    "asset.accept_risk": "Accepted the risk",
    "asset.clear_decision": "Cleared the decision",
    "asset.decision_expired": "Decision expired",
    "rule.create": "Created an ownership rule",
    "rule.update": "Changed an ownership rule",
    "rule.delete": "Deleted an ownership rule",
    "source.create": "Added a source",
    "source.update": "Changed a source",
    "source.delete": "Removed a source",
    "team.create": "Added a team",
    "team.update": "Changed a team",
    "team.delete": "Removed a team",
    "user.create": "Added a user",
    "user.update": "Changed a user",
    "user.sso_access": "Role or teams from single sign-on",
    "channel.create": "Added a notification channel",
    "channel.update": "Changed a notification channel",
    "channel.delete": "Removed a notification channel",
    "notification_rule.create": "Added a notification rule",
    "notification_rule.update": "Changed a notification rule",
    "notification_rule.delete": "Removed a notification rule",
    "delivery.retry": "Retried a notification",
    "export_destination.create": "Added a SIEM destination",
    "export_destination.update": "Changed a SIEM destination",
    "export_destination.delete": "Removed a SIEM destination",
    "retention.prune": "Pruned old records",
    "report.generate": "Asked for a posture report",
}


def audit_entries(criteria: dict):
    """Audit rows narrowed by actor, action (exact, or a prefix ending in "."), object type,
    object id, free text over what the object was called and the note, and a date range."""
    queryset = AuditLog.objects.all()
    if actor := criteria.get("actor"):
        queryset = queryset.filter(actor_name=actor)
    if action := criteria.get("action"):
        if action.endswith("."):
            queryset = queryset.filter(action__startswith=action)
        else:
            queryset = queryset.filter(action=action)
    if object_type := criteria.get("object_type"):
        queryset = queryset.filter(object_type=object_type)
    if object_id := criteria.get("object_id"):
        queryset = queryset.filter(object_id=object_id)
    if text := criteria.get("q"):
        queryset = queryset.filter(Q(object_repr__icontains=text) | Q(note__icontains=text))
    if since := criteria.get("since"):
        queryset = queryset.filter(at__gte=_day_start(since))
    if until := criteria.get("until"):
        queryset = queryset.filter(at__lt=_day_start(until))
    return queryset


AUDIT_OBJECTS = {
    "asset": "Asset",
    "delivery": "Notification",
    "notificationchannel": "Notification channel",
    "notificationrule": "Notification rule",
    "ownershiprule": "Ownership rule",
    "report": "Posture report",
    "source": "Source",
    "team": "Team",
    "user": "User",
}
EMPTY_VALUES = (None, "", [], {})


def audit_changes(entry) -> list[tuple[str, object, object]]:
    """(field, before, after) for what an audit entry changed: every key whose value differs
    when both sides were recorded; every key with a value when only one side was (a creation,
    a deletion, a decision)."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    keys = sorted(set(before) | set(after), key=str)
    if before and after:
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
    return [
        (key, before.get(key), after.get(key))
        for key in keys
        if (before or after).get(key) not in EMPTY_VALUES
    ]


# --- notifications --------------------------------------------------------------------------


def notification_rules() -> list[NotificationRule]:
    """Every rule with its channel, team, and its latest delivery's status and time."""
    latest = Delivery.objects.filter(rule=OuterRef("pk")).order_by("-created_at", "-id")
    return list(
        NotificationRule.objects.select_related("team", "channel").annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_at=Subquery(latest.values("created_at")[:1]),
        )
    )


def notification_channels() -> list[NotificationChannel]:
    return list(NotificationChannel.objects.annotate(rule_count=Count("rules")))


def deliveries(status: str = ""):
    """Notifications sent, pending or failed, newest first."""
    queryset = Delivery.objects.select_related("rule", "channel")
    return queryset.filter(status=status) if status else queryset


def delivery_counts() -> dict[str, int]:
    return dict(Delivery.objects.values_list("status").annotate(n=Count("id")).order_by())


# --- access history -------------------------------------------------------------------------

ACTOR_TOP = 10


def access_events(criteria: dict):
    """Access events across providers narrowed by provider, actor, action, asset, outcome, a
    date range and free text over actor, action and asset key."""
    queryset = AccessEvent.objects.select_related("asset").defer("detail", "asset__attributes")
    for name in ("provider", "actor", "action", "outcome"):
        if value := criteria.get(name):
            queryset = queryset.filter(**{name: value})
    if asset_id := criteria.get("asset"):
        queryset = queryset.filter(asset_id=asset_id)
    if since := criteria.get("since"):
        queryset = queryset.filter(occurred_at__gte=_day_start(since))
    if until := criteria.get("until"):
        queryset = queryset.filter(occurred_at__lt=_day_start(until))
    if text := criteria.get("q"):
        queryset = queryset.filter(
            Q(actor__icontains=text) | Q(action__icontains=text) | Q(asset_key__icontains=text)
        )
    return queryset


def actor_summary(actor: str, visible: Visibility = EVERYTHING) -> dict:
    """What one principal has touched (of the visible assets): how often, when, from where,
    and which assets most."""
    events = visible.about(AccessEvent.objects.filter(actor=actor))
    totals = events.aggregate(
        events=Count("id"),
        assets=Count("asset", distinct=True),
        first=Min("occurred_at"),
        last=Max("occurred_at"),
    )

    def top(field):
        return list(
            events.exclude(**{field: ""})
            .values_list(field)
            .annotate(count=Count("id"))
            .order_by("-count", field)[:ACTOR_TOP]
        )

    touched = list(
        events.filter(asset__isnull=False)
        .values("asset")
        .annotate(count=Count("id"), last=Max("occurred_at"))
        .order_by("-count", "-last")[:ACTOR_TOP]
    )
    assets = Asset.objects.select_related("owner").in_bulk([row["asset"] for row in touched])
    return {
        **totals,
        "actions": top("action"),
        "addresses": top("source_ip"),
        "touched": [(assets[row["asset"]], row["count"], row["last"]) for row in touched],
        "created": _created_by(actor, visible),
    }


def _created_by(actor: str, visible: Visibility) -> int:
    """Live (visible) assets the provider says ``actor`` created."""
    if visible.everything:
        return ownership_tallies()["created"].get(actor, 0)
    return visible.assets(live_assets()).filter(creator=actor).count()


# --- versions -------------------------------------------------------------------------------

REPOSITORIES_SHOWN = 40
TAGS_SHOWN = 6
UNPINNED = {"", "latest", "stable", "main", "master"}


def split_image(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference: "ghcr.io/acme/api:1.4@sha256:…" → ("ghcr.io/
    acme/api", "1.4"). A registry's port is not a tag; no tag reads as ""."""
    reference = image.split("@", 1)[0]
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, ""


def _support_of(state, ends):
    return {"state": state, "ends": ends}


def _runtime_rows(today, assets=None):
    rows = []
    for runtime, kind, count in (
        (live_assets() if assets is None else assets)
        .exclude(runtime="")
        .values_list("runtime", "kind")
        .annotate(count=Count("id"))
        .order_by()
    ):
        support = runtime_support(runtime, today)
        rows.append(
            {
                "runtime": runtime,
                "kind": kind,
                "count": count,
                "support": _support_of(support.state, support.ends) if support else None,
            }
        )
    return sorted(rows, key=lambda r: (_SUPPORT_ORDER.get(_state(r), 9), -r["count"]))


def _platform_rows(today, assets=None):
    rows = []
    for kind, provider, version, count in (
        (live_assets() if assets is None else assets)
        .exclude(platform_version="")
        .values_list("kind", "provider", "platform_version")
        .annotate(count=Count("id"))
        .order_by()
    ):
        support = kubernetes_support(version, today) if kind == AssetKind.CLUSTER else None
        rows.append(
            {
                "kind": kind,
                "provider": provider,
                "version": version,
                "count": count,
                "support": _support_of(support.state, support.ends) if support else None,
            }
        )
    return sorted(rows, key=lambda r: (r["kind"], _SUPPORT_ORDER.get(_state(r), 9), -r["count"]))


_SUPPORT_ORDER = {"eol": 0, "deprecating": 1, None: 2, "supported": 3}


def _state(row):
    return row["support"]["state"] if row["support"] else None


def _image_rows(assets=None):
    repositories: dict[str, dict] = {}
    for image, digest, count in (
        (live_assets() if assets is None else assets)
        .exclude(image="")
        .values_list("image", "image_digest")
        .annotate(count=Count("id"))
        .order_by()
    ):
        repository, tag = split_image(image)
        entry = repositories.setdefault(
            repository, {"repository": repository, "count": 0, "tags": {}, "digests": set()}
        )
        entry["count"] += count
        entry["tags"][tag] = entry["tags"].get(tag, 0) + count
        if digest:
            entry["digests"].add(digest)
    rows = []
    for entry in sorted(repositories.values(), key=lambda e: (-e["count"], e["repository"])):
        tags = sorted(entry["tags"].items(), key=lambda item: (-item[1], item[0]))
        rows.append(
            {
                "repository": entry["repository"],
                "count": entry["count"],
                "tag_count": len(tags),
                "tags": tags[:TAGS_SHOWN],
                "digest_count": len(entry["digests"]),
                "unpinned": sum(n for tag, n in tags if tag in UNPINNED),
            }
        )
    return {"repositories": rows[:REPOSITORIES_SHOWN], "repository_count": len(rows)}


def versions(now=None, visible: Visibility = EVERYTHING) -> dict:
    """Runtimes, platform versions and images of the live (visible) estate, with their support
    state. Only collections change what runs where, so the whole estate's are counted again
    after a collection, not after every decision (a decision on a million assets' estate would
    cost seconds here); a scoped reader's after decisions too, which move assets in and out of
    their scope."""
    today = (now or timezone.now()).date()
    live = visible.assets(live_assets())

    def build():
        return {
            "runtimes": _runtime_rows(today, live),
            "platforms": _platform_rows(today, live),
            **_image_rows(live),
        }

    stamp = _collections_stamp() if visible.everything else data_stamp()
    return rollup(f"versions:{today}:{visible.key}", stamp, build)


# --- carrying figures over a decision -------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """An asset whose owner or tracking was just re-derived: as it is now, and its owner and
    tracking before."""

    asset: Asset
    owner_before: int | None
    tracking_before: str

    @property
    def counted(self) -> bool:
        """Whether the estate-wide figures count it differently now."""
        moved = (self.owner_before, self.tracking_before) != (
            self.asset.owner_id,
            self.asset.tracking,
        )
        return moved and self.asset.gone_at is None


def _posture_of(asset, tracking) -> dict[str, int]:
    """What one live asset with ``tracking`` adds to each of ``_posture_counts``."""
    untracked, accepted = TrackingStatus.UNTRACKED, TrackingStatus.ACCEPTED
    return {
        "exposed_untracked": int(asset.exposed and tracking == untracked),
        "exposed_accepted": int(asset.exposed and tracking == accepted),
        "total": 1,
        "tracked": int(tracking == TrackingStatus.TRACKED),
        "untracked": int(tracking == untracked),
        "accepted": int(tracking == accepted),
        "exposed": int(asset.exposed),
        "eol": int(asset.eol),
    }


def _moved_posture(move) -> dict[str, int]:
    now = _posture_of(move.asset, move.asset.tracking)
    before = _posture_of(move.asset, move.tracking_before)
    return {name: now[name] - before[name] for name in now}


def _add(counts: dict, change: dict[str, int], sign=1):
    """Add ``change`` to the counts ``counts`` keeps (posture counts, ``_team_figures``)."""
    for name, delta in change.items():
        if name in counts:
            counts[name] += sign * delta


def _moved_overview(figures: dict, moves: list[Move]) -> dict:
    """``_estate_figures`` with the moved assets counted as they are now."""
    rows = {row["provider"]: row for row in figures["matrix"]}
    for move in moves:
        change = _moved_posture(move)
        _add(figures["totals"], change)
        _add(rows[move.asset.provider], change)
        _add(figures["matrix_totals"], change)
    return figures


def _team_counts(figures: dict, owner_id, asset, tracking, sign):
    empty = {**dict.fromkeys(_posture_counts(), 0), "with_findings": 0, "by_kind": {}}
    counts = figures.setdefault(owner_id, empty)
    findings = asset.max_severity is not None and asset.max_severity >= 0
    _add(counts, {**_posture_of(asset, tracking), "with_findings": int(findings)}, sign)
    by_kind = counts["by_kind"]
    by_kind[asset.kind] = by_kind.get(asset.kind, 0) + sign
    if not by_kind[asset.kind]:
        del by_kind[asset.kind]
    if not counts["total"]:  # as a count would: no row for a team without live assets
        del figures[owner_id]


def _moved_teams(figures: dict, moves: list[Move]) -> dict:
    """``_team_figures`` with the moved assets counted under their owners now."""
    for move in moves:
        _team_counts(figures, move.owner_before, move.asset, move.tracking_before, -1)
        _team_counts(figures, move.asset.owner_id, move.asset, move.asset.tracking, 1)
    return figures


def trends_unmoved(moves: list[Move], now=None) -> bool:
    """Whether the untracked trends, counted back from today through the history, keep every
    day but today after these moves: not when an asset that joined or left the untracked went
    or came back within the trend, or is gone (its decision is history, not a live count)."""
    joined_or_left = [
        move.asset
        for move in moves
        if (move.tracking_before == TrackingStatus.UNTRACKED)
        != (move.asset.tracking == TrackingStatus.UNTRACKED)
    ]
    if not joined_or_left:
        return True
    if any(asset.gone_at is not None for asset in joined_or_left):
        return False
    since = _day_start((now or timezone.now()).date() - timedelta(days=max(TREND_DAYS)))
    return not AssetChange.objects.filter(
        asset__in=joined_or_left,
        field=AssetChange.Field.LIFECYCLE,
        new__in=("gone", "reappeared"),  # what untracked_series counts
        at__gte=since,
    ).exists()


def _carry(name: str, before: str, after: str, adjust, renamed=None):
    """The figures cached as ``name`` for the stamp ``before``, adjusted, cached for ``after``
    (as ``renamed``, when given) until they would have expired. None when there were none."""
    cached = cache.get(_rollup_key(name, before))
    if cached is None:
        return None
    value, counted_at = cached
    left = ROLLUP_TTL - (timezone.now().timestamp() - counted_at)
    if left < 1:
        return None
    value = adjust(value)
    cache.set(_rollup_key(renamed or name, after), (value, counted_at), left)
    return value


def carry_rollups(before: str, after: str, moves: list[Move], trends: bool, now=None):
    """After a decision moved the data from stamp ``before`` to ``after`` (nothing else did),
    the whole estate's figures cached for ``before`` are cached for ``after`` with the
    ``moves`` counted as they are now: the next view adjusts by a few assets instead of
    counting a million. ``trends``: whether the untracked trends may be carried too (see
    ``trends_unmoved``). Figures over part of the estate are counted afresh when next seen:
    who sees an asset changes with its owner."""
    today = (now or timezone.now()).date()
    moves = [move for move in moves if move.counted]
    _carry("live-per-scope:all", before, after, lambda counts: counts)
    _carry("teams", before, after, lambda figures: _moved_teams(figures, moves))
    overview = _carry(f"overview:{today}:all", before, after, lambda f: _moved_overview(f, moves))
    if overview is None or not trends:
        return
    untracked = overview["totals"]["untracked"]
    was = untracked - sum(_moved_posture(move)["untracked"] for move in moves)
    for days in TREND_DAYS:
        _carry(
            f"untracked-trend:{today}:{days}:{was}:all",
            before,
            after,
            lambda series: [*series[:-1], (series[-1][0], untracked)],
            renamed=f"untracked-trend:{today}:{days}:{untracked}:all",
        )


# --- warming --------------------------------------------------------------------------------


def warm_rollups(now=None, *, recount=False) -> str:
    """Compute every cached estate-wide figure now, so the first page view after a collection
    or a decision does not pay for counting the estate. Returns the data stamp they are for.

    ``recount``: count them even where they are cached, and cache them for ``ROLLUP_TTL``
    from now. Celery beat does so more often than they expire (``inventory.tasks``), which
    keeps them warm between collections and shows writes no stamp sees within its interval."""
    recounting = _recounting.set(recount)
    try:
        figures = overview(now)
        for days in TREND_DAYS:
            untracked_trend(days, figures["totals"]["untracked"], figures["stamp"], now)
        team_figures()
        versions(now)
        ownership_tallies()
    finally:
        _recounting.reset(recounting)
    return figures["stamp"]


# --- posture reports ------------------------------------------------------------------------

# Untracked assets by how long they have been seen: (name, lower, upper) in days of age.
AGING_BUCKETS = (
    ("under_7", None, 7),
    ("7_to_30", 7, 30),
    ("30_to_90", 30, 90),
    ("over_90", 90, None),
)
AGING_LABELS = {
    "under_7": "Under 7 days",
    "7_to_30": "7 to 30 days",
    "30_to_90": "30 to 90 days",
    "over_90": "Over 90 days",
}
REPORT_LIST_LIMIT = 20
# The decisions a report counts, in the order it shows them.
DECISION_ACTIONS = {
    "asset.assign": "Assigned to a team",
    "asset.claim": "Claimed for a team",
    "asset.accept_risk": "Accepted the risk",
    "asset.clear_decision": "Cleared the decision",
}
ASSET_LIST_FIELDS = (
    "id",
    "name",
    "key",
    "provider",
    "kind",
    "account",
    "region",
    "first_seen",
    "exposed",
    "eol",
    "max_severity",
)


def report_assets(team=None, live=True):
    """The assets a report covers: the organisation's, or those ``team`` owns."""
    assets = live_assets() if live else Asset.objects.all()
    return assets if team is None else assets.filter(owner=team)


def _asset_line(row, now) -> dict:
    """One asset in a report's list, as plain JSON-ready values."""
    severity = row["max_severity"]
    return {
        "id": row["id"],
        "name": row["name"],
        "key": row["key"],
        "provider": PROVIDER_LABELS.get(row["provider"], row["provider"]),
        "kind": KIND_LABELS.get(row["kind"], row["kind"]),
        "account": row["account"],
        "region": row["region"],
        "first_seen": row["first_seen"].date().isoformat(),
        "age_days": (now - row["first_seen"]).days,
        "exposed": row["exposed"],
        "eol": row["eol"],
        "worst_finding": Severity(severity).label if severity is not None else "",
    }


def _coverage_rows(assets) -> tuple[list[dict], dict]:
    """Per provider and in all: live assets, how many have an accountable owner (tracked), are
    accepted risks or untracked, and exposure and end of life. One grouped query."""
    names = ("total", "tracked", "accepted", "untracked", "exposed", "exposed_untracked")
    names += ("exposed_accepted", "eol")
    rows = []
    for group in assets.values("provider").annotate(**_posture_counts()).order_by():
        row = {"provider": PROVIDER_LABELS.get(group["provider"], group["provider"])}
        row.update({name: group[name] for name in names})
        rows.append(row)
    rows.sort(key=lambda r: (-r["total"], r["provider"]))
    totals = {name: sum(row[name] for row in rows) for name in names}
    for row in [*rows, totals]:
        row["owned_percent"] = _percent(row["tracked"], row["total"])
        row["accounted_percent"] = _percent(row["tracked"] + row["accepted"], row["total"])
        row["exposed_tracked"] = row["exposed"] - row["exposed_untracked"] - row["exposed_accepted"]
    return rows, totals


def _aging(untracked, now) -> list[dict]:
    """Live untracked assets counted by days since first seen, in one query."""
    counts = {}
    for name, lower, upper in AGING_BUCKETS:
        condition = Q()
        if lower is not None:
            condition &= Q(first_seen__lte=now - timedelta(days=lower))
        if upper is not None:
            condition &= Q(first_seen__gt=now - timedelta(days=upper))
        counts[name] = Count("id", filter=condition)
    row = untracked.aggregate(**counts)
    return [{"bucket": name, "label": AGING_LABELS[name], "count": row[name]} for name in counts]


def _worst_first(assets):
    return assets.annotate(severity_rank=Coalesce("max_severity", Value(-1))).order_by(
        "-severity_rank", "first_seen", "id"
    )


def _support_rows(today, assets) -> list[dict]:
    """Runtimes and platform versions past or near their end of life, most assets first."""
    rows = []
    for row in _runtime_rows(today, assets):
        if _state(row) in ("eol", "deprecating"):
            rows.append(
                {
                    "what": "Runtime",
                    "version": row["runtime"],
                    "kind": KIND_LABELS.get(row["kind"], row["kind"]),
                    "count": row["count"],
                    "state": _state(row),
                    "ends": row["support"]["ends"].isoformat() if row["support"]["ends"] else "",
                }
            )
    for row in _platform_rows(today, assets):
        if _state(row) in ("eol", "deprecating"):
            rows.append(
                {
                    "what": PROVIDER_LABELS.get(row["provider"], row["provider"]),
                    "version": row["version"],
                    "kind": KIND_LABELS.get(row["kind"], row["kind"]),
                    "count": row["count"],
                    "state": _state(row),
                    "ends": row["support"]["ends"].isoformat() if row["support"]["ends"] else "",
                }
            )
    rows.sort(key=lambda r: (_SUPPORT_ORDER[r["state"]], -r["count"], r["version"]))
    return rows


def _findings(team) -> dict:
    from .rules import RULES_BY_SLUG

    findings = open_findings(team)
    by_severity = dict(findings.values_list("severity").annotate(count=Count("id")).order_by())
    by_rule = (
        findings.values_list("rule", "severity")
        .annotate(count=Count("id"))
        .order_by("-count", "rule")[:REPORT_LIST_LIMIT]
    )
    return {
        "by_severity": [
            {"severity": label, "count": by_severity.get(value, 0)}
            for value, label in reversed(Severity.choices)
        ],
        "total": sum(by_severity.values()),
        "by_rule": [
            {
                "rule": rule,
                "title": RULES_BY_SLUG[rule].title if rule in RULES_BY_SLUG else rule,
                "severity": Severity(severity).label,
                "count": count,
            }
            for rule, severity, count in by_rule
        ],
    }


def _team_asset_ids(team):
    """The ids, as the audit log writes them, of the assets ``team`` owns now."""
    owned = Asset.objects.filter(owner=team).annotate(text_id=Cast("id", CharField()))
    return owned.values("text_id")


def _changes(team, since, until, now) -> dict:
    """What happened in the period: assets that came and went, owners that changed, the
    decisions people took, and accepted risks taken and lapsed."""
    in_period = Q(at__gt=since, at__lte=until)
    comings = report_assets(team, live=False).aggregate(
        new=Count("id", filter=Q(first_seen__gt=since, first_seen__lte=until)),
        new_untracked=Count(
            "id",
            filter=Q(
                first_seen__gt=since,
                first_seen__lte=until,
                tracking=TrackingStatus.UNTRACKED,
                gone_at__isnull=True,
            ),
        ),
        gone=Count("id", filter=Q(gone_at__gt=since, gone_at__lte=until)),
    )
    owner_changes = AssetChange.objects.filter(in_period, field=AssetChange.Field.OWNER)
    if team is not None:
        owner_changes = owner_changes.filter(Q(old=team.name) | Q(new=team.name))
    decisions = AuditLog.objects.filter(in_period, object_type="asset")
    if team is not None:
        decisions = decisions.filter(
            Q(object_id__in=_team_asset_ids(team)) | Q(after__team=team.name)
        )
    counts = decisions.aggregate(
        **{action: Count("id", filter=Q(action=action)) for action in DECISION_ACTIONS},
        expired=Count("id", filter=Q(action="asset.decision_expired", before__kind="accept")),
    )
    new_untracked = (
        report_assets(team)
        .filter(first_seen__gt=since, first_seen__lte=until, tracking=TrackingStatus.UNTRACKED)
        .order_by("-first_seen", "id")
        .values(*ASSET_LIST_FIELDS)[:REPORT_LIST_LIMIT]
    )
    return {
        **comings,
        "owner_changes": owner_changes.count(),
        "decisions": [
            {"action": action, "label": label, "count": counts[action]}
            for action, label in DECISION_ACTIONS.items()
        ],
        "decisions_total": sum(counts[action] for action in DECISION_ACTIONS),
        "risks_accepted": counts["asset.accept_risk"],
        "risks_expired": counts["expired"],
        "new_untracked_assets": [_asset_line(row, now) for row in new_untracked],
    }


# The headline figures a report compares with the previous one's.
SUMMARY_FIELDS = (
    "total",
    "tracked",
    "accepted",
    "untracked",
    "owned_percent",
    "accounted_percent",
    "exposed",
    "exposed_untracked",
    "eol",
    "open_findings",
    "critical_high",
)


def posture_report(team=None, *, since, until, now=None, previous=None) -> dict:
    """The figures of a posture report for the organisation (``team`` None) or one team:
    coverage by provider, untracked assets by age, internet exposure, end of life, open
    findings by severity, and what changed between ``since`` and ``until``. ``previous`` is the
    summary of the report before it, to compare with. Plain JSON-ready values; a fixed number
    of queries whatever the estate, every list bounded."""
    now = now or timezone.now()
    assets = report_assets(team)
    providers, totals = _coverage_rows(assets)
    untracked = assets.filter(tracking=TrackingStatus.UNTRACKED)
    findings = _findings(team)
    severities = {row["severity"]: row["count"] for row in findings["by_severity"]}
    summary = {
        **{name: totals[name] for name in SUMMARY_FIELDS if name in totals},
        "open_findings": findings["total"],
        "critical_high": severities["Critical"] + severities["High"],
    }
    fresh = freshness()
    return {
        "scope": team.name if team else "Organisation",
        "since": since.isoformat(),
        "until": until.isoformat(),
        "generated": now.isoformat(),
        "summary": summary,
        "compared": _compared(summary, previous),
        "coverage": {"providers": providers, "totals": totals},
        "aging": _aging(untracked, now),
        "oldest_untracked": [
            _asset_line(row, now)
            for row in untracked.order_by("first_seen", "id").values(*ASSET_LIST_FIELDS)[
                :REPORT_LIST_LIMIT
            ]
        ],
        "exposed_untracked": [
            _asset_line(row, now)
            for row in _worst_first(untracked.filter(exposed=True)).values(*ASSET_LIST_FIELDS)[
                :REPORT_LIST_LIMIT
            ]
        ],
        "lifecycle": [
            {"rule": rule, "label": label, "count": count}
            for rule, label, count in lifecycle_findings(team)
        ],
        "end_of_life": _support_rows(now.date(), assets),
        "findings": findings,
        "changes": _changes(team, since, until, now),
        "freshness": {
            "scopes": fresh.scopes,
            "oldest_success": fresh.oldest_success.isoformat() if fresh.oldest_success else "",
            "not_collected": fresh.not_collected,
        },
        "list_limit": REPORT_LIST_LIMIT,
    }


def _compared(summary: dict, previous: dict | None) -> list[dict]:
    """Each headline figure now, in the previous report, and the difference."""
    rows = []
    for name in SUMMARY_FIELDS:
        before = (previous or {}).get(name)
        now = summary.get(name)
        change = now - before if isinstance(now, int) and isinstance(before, int) else None
        rows.append({"figure": name, "now": now, "before": before, "change": change})
    return rows
