"""Read-side queries for pages and the API, each a constant number of queries."""

from django.db.models import Count, Q

from .models import (
    Asset,
    AssetChange,
    CollectionRun,
    Finding,
    FindingStatus,
    Source,
    TrackingStatus,
)

RECENT_RUNS = 10


def live_assets():
    return Asset.objects.filter(gone_at__isnull=True)


def overview() -> dict:
    live = live_assets()
    totals = live.aggregate(
        total=Count("id"),
        untracked=Count("id", filter=Q(tracking=TrackingStatus.UNTRACKED)),
        accepted=Count("id", filter=Q(tracking=TrackingStatus.ACCEPTED)),
        exposed=Count("id", filter=Q(exposed=True)),
        eol=Count("id", filter=Q(eol=True)),
    )
    by_provider_kind = list(
        live.values("provider", "kind").annotate(count=Count("id")).order_by("provider", "kind")
    )
    providers = sorted({row["provider"] for row in by_provider_kind})
    kinds = sorted({row["kind"] for row in by_provider_kind})
    grid = {(row["provider"], row["kind"]): row["count"] for row in by_provider_kind}
    matrix = [
        {
            "provider": p,
            "cells": [(k, grid.get((p, k), 0)) for k in kinds],
            "total": sum(grid.get((p, k), 0) for k in kinds),
        }
        for p in providers
    ]
    tracked = totals["total"] - totals["untracked"]
    return {
        "totals": totals,
        "coverage": round(100 * tracked / totals["total"]) if totals["total"] else None,
        "kinds": kinds,
        "matrix": matrix,
        "recent_runs": CollectionRun.objects.select_related("source")[:RECENT_RUNS],
        "sources": Source.objects.order_by("name"),
    }


def asset_detail(asset) -> dict:
    return {
        "findings": Finding.objects.filter(asset=asset).order_by(
            "status", "-severity", "-opened_at"
        ),
        "changes": AssetChange.objects.filter(asset=asset).select_related("actor")[:200],
        "events": asset.events.all()[:200],
        "children": asset.children.filter(gone_at__isnull=True)[:200],
    }


def team_detail(team) -> dict:
    assets = live_assets().filter(owner=team)
    return {
        "assets": assets.order_by("provider", "kind", "name")[:500],
        "by_kind": assets.values("kind").annotate(count=Count("id")).order_by("kind"),
        "open_findings": Finding.objects.filter(
            asset__in=assets, status=FindingStatus.OPEN
        ).count(),
    }
