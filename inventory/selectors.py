"""Read-side queries for the dashboard pages.

Each selector runs a fixed number of queries whatever the size of the estate: aggregates are done
by the database, related rows come with ``select_related``/``prefetch_related`` or subqueries,
and lists are bounded.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Exists, Max, Min, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

# The API's label lookup keeps the key a query parameter on every database; the dashboard's
# filters must behave exactly like the API's, so they share it.
from .api.filtersets import LabelText
from .models import (
    AccessEvent,
    Asset,
    AssetChange,
    AssetKind,
    CollectionRun,
    Finding,
    FindingStatus,
    Provider,
    RunStatus,
    Scope,
    ScopeRun,
    Severity,
    Source,
    Team,
    TrackingStatus,
)

RECENT_RUNS = 10
TIMELINE_LIMIT = 200
TEAM_ASSET_LIMIT = 500
UNHEALTHY = (RunStatus.FAILED, RunStatus.PARTIAL)
UNOWNED = "none"  # the owner filter's value for assets nobody owns

PROVIDER_LABELS = dict(Provider.choices)
KIND_LABELS = dict(AssetKind.choices)
KIND_ORDER = {kind: position for position, kind in enumerate(AssetKind.values)}


def live_assets():
    return Asset.objects.filter(gone_at__isnull=True)


def _posture_counts():
    """Filtered counts shared by the overview totals, the provider rows and team pages."""
    return {
        "total": Count("id"),
        "tracked": Count("id", filter=Q(tracking=TrackingStatus.TRACKED)),
        "untracked": Count("id", filter=Q(tracking=TrackingStatus.UNTRACKED)),
        "accepted": Count("id", filter=Q(tracking=TrackingStatus.ACCEPTED)),
        "exposed": Count("id", filter=Q(exposed=True)),
        "eol": Count("id", filter=Q(eol=True)),
    }


def _percent(part, whole):
    return round(100 * part / whole) if whole else None


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


def provider_kind_matrix():
    """Live assets counted per provider and kind, with per-provider posture columns.

    Returns (kinds, rows, totals): ``kinds`` are (value, label) pairs in the canonical kind order,
    each row holds the provider's counts per kind and its untracked/exposed/EOL counts.
    """
    grouped = list(
        live_assets()
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
                "eol": 0,
            },
        )
        row["by_kind"][group["kind"]] = group["total"]
        for name in ("total", "untracked", "exposed", "eol"):
            row[name] += group[name]
    for row in rows.values():
        row["cells"] = [(kind, row["by_kind"][kind]) for kind in kinds]
    totals = {
        "cells": [(kind, sum(r["by_kind"][kind] for r in rows.values())) for kind in kinds],
        **{n: sum(r[n] for r in rows.values()) for n in ("total", "untracked", "exposed", "eol")},
    }
    ordered = sorted(rows.values(), key=lambda r: (-r["total"], r["label"]))
    return [(kind, KIND_LABELS.get(kind, kind)) for kind in kinds], ordered, totals


def _latest_scope_run():
    return ScopeRun.objects.filter(scope=OuterRef("pk")).order_by("-started_at", "-id")


def _latest_run():
    return CollectionRun.objects.filter(source=OuterRef("pk")).order_by("-started_at", "-id")


def collection_health():
    """Every source with its last run and, per scope, its last status, last successful
    collection, live asset count and the error of its latest run."""
    scopes = Scope.objects.annotate(
        live_assets=Count("assets", filter=Q(assets__gone_at__isnull=True)),
        last_error=Subquery(_latest_scope_run().values("error")[:1]),
    ).order_by("key")
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


def lifecycle_findings() -> list[tuple[str, str, int]]:
    """(rule, label, count): open findings on live assets for the lifecycle rules (EOL,
    deprecating, stale)."""
    counts = dict(
        Finding.objects.filter(
            rule__in=list(LIFECYCLE_RULES), status=FindingStatus.OPEN, asset__gone_at__isnull=True
        )
        .values_list("rule")
        .annotate(count=Count("id"))
        .order_by()
    )
    days = settings.DAYLIGHT_STALE_DAYS
    return [
        (rule, label.format(days=days), counts.get(rule, 0))
        for rule, label in LIFECYCLE_RULES.items()
    ]


def overview(now=None) -> dict:
    now = now or timezone.now()
    new_since = (now - timedelta(days=NEW_DAYS)).date()
    totals = live_assets().aggregate(**_posture_counts(), **_overview_counts(_day_start(new_since)))
    kinds, matrix, matrix_totals = provider_kind_matrix()
    accounted = totals["tracked"] + totals["accepted"]
    return {
        "totals": totals,
        "coverage": _percent(accounted, totals["total"]),
        "accounted": accounted,
        "untracked_share": _percent(totals["untracked"], totals["total"]),
        "new_since": new_since,
        "by_severity": [
            (value, label, totals[f"worst_{value}"]) for value, label in reversed(Severity.choices)
        ],
        "lifecycle": lifecycle_findings(),
        "kinds": kinds,
        "matrix": matrix,
        "matrix_totals": matrix_totals,
        "health": collection_health(),
        "recent_runs": recent_runs(),
    }


# --- asset ----------------------------------------------------------------------------------


def asset_for_page(pk):
    """The asset with everything its page shows about it in the same row."""
    return Asset.objects.select_related(
        "owner", "scope__source", "parent", "decision__decided_by", "decision__team", "owner_rule"
    ).get(pk=pk)


def _sorted_items(mapping):
    """A dict's items as sorted pairs: templates must never look up attacker-chosen keys (a tag
    called "items" would shadow ``dict.items``)."""
    if not isinstance(mapping, dict):
        return []
    return sorted(mapping.items(), key=lambda item: str(item[0]))


def asset_detail(asset) -> dict:
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
        "changes": list(
            AssetChange.objects.filter(asset=asset).select_related("actor")[:TIMELINE_LIMIT]
        ),
        "events": list(AccessEvent.objects.filter(asset=asset)[:TIMELINE_LIMIT]),
        "children": list(
            asset.children.filter(gone_at__isnull=True).order_by("kind", "name")[:TIMELINE_LIMIT]
        ),
    }


# --- teams ----------------------------------------------------------------------------------


def teams() -> list[Team]:
    """Every team with its live asset, exposure and EOL counts."""
    live = Q(assets__gone_at__isnull=True)
    return list(
        Team.objects.annotate(
            asset_count=Count("assets", filter=live),
            exposed_count=Count("assets", filter=live & Q(assets__exposed=True)),
            eol_count=Count("assets", filter=live & Q(assets__eol=True)),
            accepted_count=Count(
                "assets", filter=live & Q(assets__tracking=TrackingStatus.ACCEPTED)
            ),
        ).order_by("name")
    )


def untracked_count() -> int:
    return live_assets().filter(tracking=TrackingStatus.UNTRACKED).count()


def team_detail(team) -> dict:
    assets = live_assets().filter(owner=team)
    by_kind = assets.values("kind").annotate(count=Count("id")).order_by("kind")
    return {
        "totals": assets.aggregate(**_posture_counts()),
        "by_kind": sorted(
            ((KIND_LABELS.get(r["kind"], r["kind"]), r["count"]) for r in by_kind),
            key=lambda pair: -pair[1],
        ),
        "assets": list(
            assets.select_related("scope").order_by("provider", "kind", "name")[:TEAM_ASSET_LIMIT]
        ),
        "asset_limit": TEAM_ASSET_LIMIT,
        "open_findings": Finding.objects.filter(
            asset__owner=team, asset__gone_at__isnull=True, status=FindingStatus.OPEN
        ).count(),
    }


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


def _filter_label(queryset, value):
    key, has_value, wanted = value.partition("=")
    queryset = queryset.annotate(_label=LabelText(key.strip()))
    if has_value:
        return queryset.filter(_label=wanted.strip())
    return queryset.filter(_label__isnull=False)


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


def assets_matching(criteria: dict):
    """Assets narrowed by the explorer's ``criteria`` (see ``dashboard.filters``), annotated
    with ``severity_rank`` (worst open finding, -1 for none) for sorting. Live assets only
    unless ``state`` says "gone" or "all"."""
    queryset = Asset.objects.annotate(severity_rank=Coalesce("max_severity", Value(-1)))
    state = criteria.get("state", "live")
    if state == "live":
        queryset = queryset.filter(gone_at__isnull=True)
    elif state == "gone":
        queryset = queryset.filter(gone_at__isnull=False)
    for name, column in _EXACT_FILTERS.items():
        if name in criteria:
            queryset = queryset.filter(**{column: criteria[name]})
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
        queryset = _filter_label(queryset, label)
    if after := criteria.get("first_seen_after"):
        queryset = queryset.filter(first_seen__gte=_day_start(after))
    if before := criteria.get("first_seen_before"):
        queryset = queryset.filter(first_seen__lt=_day_start(before))
    if text := criteria.get("q"):
        queryset = queryset.filter(Q(name__icontains=text) | Q(key__icontains=text))
    return queryset


def asset_rows(queryset):
    """What a list row of assets shows: the owner's name and the scope's freshness come along."""
    return queryset.select_related("owner", "scope").defer(
        "attributes", "observed", "security", "endpoints", "durable_hash", "volatile_hash"
    )


def team_choices() -> list[tuple[str, str]]:
    return list(Team.objects.order_by("name").values_list("slug", "name"))
