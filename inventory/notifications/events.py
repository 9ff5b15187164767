"""From what a collection run (or an expiry pass) wrote to the digests rules ask for.

Events are read after the fact from the run's AssetChange rows, the findings it opened and the
run history, so the ingest path does no notification work. Each enabled rule gets at most one
Delivery per run: "12 new untracked assets" with the riskiest few named and a link to the
filtered list, instead of twelve messages.
"""

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse

from inventory.models import (
    Asset,
    AssetChange,
    CollectionRun,
    Delivery,
    Finding,
    FindingStatus,
    NotificationRule,
    RunStatus,
    Severity,
    TrackingDecision,
    TrackingStatus,
)

logger = logging.getLogger(__name__)
Event = NotificationRule.Event
FAILING = (RunStatus.FAILED, RunStatus.PARTIAL)
NAME_LIMIT = 120
DETAIL_LIMIT = 300


def bounded(text, limit: int) -> str:
    """Collected names are attacker-controlled: keep them one line and short."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def absolute(path: str) -> str:
    return settings.DAYLIGHT_BASE_URL + path


def assets_link(**filters) -> str:
    query = urlencode({k: v for k, v in filters.items() if v not in (None, "")})
    return absolute(reverse("dashboard:assets") + (f"?{query}" if query else ""))


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


@dataclass(frozen=True)
class Digest:
    """One event kind's facts as one rule sees them: how many, the first few, where the rest are."""

    event: str
    title: str
    count: int
    items: list[dict]
    link: str
    context: dict

    def payload(self) -> dict:
        return {
            "event": self.event,
            "event_label": Event(self.event).label,
            "title": self.title,
            "count": self.count,
            "items": self.items,
            "more": max(self.count - len(self.items), 0),
            "link": self.link,
            **self.context,
        }


# --- items ------------------------------------------------------------------------------------


def asset_item(asset: Asset, detail: str = "") -> dict:
    where = " · ".join(
        p for p in (asset.provider, asset.account, asset.region, asset.namespace) if p
    )
    return {
        "name": bounded(asset.name, NAME_LIMIT),
        "url": absolute(asset.get_absolute_url()),
        "detail": bounded(detail or where, DETAIL_LIMIT),
        "team": bounded(asset.owner.name, NAME_LIMIT) if asset.owner_id else None,
    }


def riskiest_first(assets: QuerySet) -> QuerySet:
    return assets.select_related("owner").order_by(
        "-exposed", F("max_severity").desc(nulls_last=True), "name", "id"
    )


# --- delivering -------------------------------------------------------------------------------


def create_deliveries(
    event: str,
    key: str,
    digest_for: Callable[[NotificationRule], Digest | None],
    rules: Iterable[NotificationRule] | None = None,
) -> list[Delivery]:
    """One Delivery per enabled rule of ``event`` that has something to say, queued to be sent
    once this transaction commits. A key already delivered for a rule is not delivered again."""
    if rules is None:
        rules = NotificationRule.objects.filter(event=event, enabled=True, channel__enabled=True)
    created = []
    for rule in rules.select_related("team", "channel") if isinstance(rules, QuerySet) else rules:
        digest = digest_for(rule)
        if digest is None or digest.count == 0:
            continue
        delivery, is_new = Delivery.objects.get_or_create(
            rule=rule,
            key=key,
            defaults={
                "channel": rule.channel,
                "event": event,
                "title": bounded(digest.title, 255),
                "payload": digest.payload(),
            },
        )
        if is_new:
            created.append(delivery)
            transaction.on_commit(partial(queue_delivery, delivery.pk), robust=True)
    return created


def queue_delivery(delivery_id: int) -> None:
    from inventory.tasks import deliver_notification

    from .sending import deliver_in_process

    if settings.CELERY_TASK_ALWAYS_EAGER:
        deliver_in_process(delivery_id)
    else:
        deliver_notification.delay(delivery_id)


# --- after a collection run -------------------------------------------------------------------


def notify_run(run: CollectionRun) -> list[Delivery]:
    """The deliveries a finished run calls for, for every event a run can raise."""
    if run.status in (RunStatus.RUNNING, RunStatus.SKIPPED):
        return []
    key = f"run:{run.pk}"
    context = {
        "source": run.source.name,
        "run_url": absolute(reverse("dashboard:run", args=[run.pk])),
    }
    deliveries = []
    with transaction.atomic():
        for event, digest_for in (
            (Event.NEW_UNTRACKED, new_untracked_digest),
            (Event.EXPOSED, exposed_digest),
            (Event.CRITICAL_FINDING, critical_finding_digest),
        ):
            deliveries += create_deliveries(event, key, partial(digest_for, run, context))
        deliveries += notify_failing(run, key, context)
    return deliveries


def _team_filter(rule: NotificationRule, field: str = "owner_id") -> Q:
    return Q(**{field: rule.team_id}) if rule.team_id else Q()


def _changed_in(run: CollectionRun, field: str, new) -> QuerySet:
    return AssetChange.objects.filter(run__run=run, field=field, new=new).values("asset_id")


def _asset_digest(event, title, assets, rule, link_filters, context, detail=None) -> Digest:
    assets = riskiest_first(assets.filter(_team_filter(rule)))
    count = assets.count()
    shown = assets[: settings.DAYLIGHT_NOTIFY_MAX_ITEMS] if count else []
    if rule.team_id:
        link_filters["owner"] = rule.team.slug
    return Digest(
        event=event,
        title=title(count),
        count=count,
        items=[asset_item(a, detail(a) if detail else "") for a in shown],
        link=assets_link(**link_filters),
        context=context,
    )


def new_untracked_digest(run, context, rule) -> Digest:
    """Assets this run found untracked (new, or whose tags no longer match any rule) that are
    still untracked and live. Untracked assets have no owner: only team-less rules ask."""
    assets = Asset.objects.filter(
        pk__in=_changed_in(run, AssetChange.Field.TRACKING, TrackingStatus.UNTRACKED),
        tracking=TrackingStatus.UNTRACKED,
        gone_at__isnull=True,
    )
    source = context["source"]
    return _asset_digest(
        Event.NEW_UNTRACKED,
        lambda n: f"{plural(n, 'new untracked asset')} in {source}",
        assets,
        rule,
        {"tracking": TrackingStatus.UNTRACKED, "source": source, "sort": "-first_seen"},
        context,
    )


def exposed_digest(run, context, rule) -> Digest:
    """Assets this run saw become internet-exposed (new and exposed, or newly so)."""
    assets = Asset.objects.filter(
        pk__in=_changed_in(run, AssetChange.Field.EXPOSED, True),
        exposed=True,
        gone_at__isnull=True,
    )
    source = context["source"]
    return _asset_digest(
        Event.EXPOSED,
        lambda n: f"{plural(n, 'asset')} became internet-exposed in {source}",
        assets,
        rule,
        {"exposed": "yes", "source": source},
        context,
    )


def critical_finding_digest(run, context, rule) -> Digest:
    """Critical findings the run opened (ingest opens them as of the scope run's start) and
    that are still open."""
    findings = (
        Finding.objects.filter(
            asset__scope__runs__run=run,
            opened_at__gte=run.started_at,
            opened_at__lte=run.finished_at or run.started_at,
            severity=Severity.CRITICAL,
            status=FindingStatus.OPEN,
        )
        .filter(_team_filter(rule, "asset__owner_id"))
        .select_related("asset__owner")
        .order_by("asset__name", "id")
        .distinct()
    )
    count = findings.count()
    shown = findings[: settings.DAYLIGHT_NOTIFY_MAX_ITEMS] if count else []
    source = context["source"]
    link = {"min_severity": Severity.CRITICAL, "source": source}
    if rule.team_id:
        link["owner"] = rule.team.slug
    return Digest(
        event=Event.CRITICAL_FINDING,
        title=f"{plural(count, 'critical finding')} opened in {source}",
        count=count,
        items=[asset_item(f.asset, _finding_detail(f)) for f in shown],
        link=assets_link(**link),
        context=context,
    )


def _finding_detail(finding: Finding) -> str:
    title = finding.definition.title if finding.definition else finding.rule
    return f"{title}: {finding.detail}" if finding.detail else title


def failing_streak(run: CollectionRun, longest: int) -> int:
    """How many of the source's finished runs up to ``run``, newest first, failed in a row."""
    statuses = (
        CollectionRun.objects.filter(source_id=run.source_id, started_at__lte=run.started_at)
        .exclude(status__in=(RunStatus.RUNNING, RunStatus.SKIPPED))
        .order_by("-started_at", "-id")
        .values_list("status", flat=True)[: longest + 1]
    )
    streak = 0
    for status in statuses:
        if status not in FAILING:
            break
        streak += 1
    return streak


def notify_failing(run: CollectionRun, key: str, context: dict) -> list[Delivery]:
    """A source failing (or partly failing) for a rule's N runs in a row: said once, when the
    streak reaches N; a success starts the count again."""
    if run.status not in FAILING:
        return []
    rules = list(
        NotificationRule.objects.filter(
            event=Event.SOURCE_FAILING, enabled=True, channel__enabled=True
        ).select_related("channel")
    )
    if not rules:
        return []
    streak = failing_streak(run, max(r.failing_runs for r in rules))
    first_error = bounded(run.error.strip().splitlines()[0] if run.error.strip() else "", 300)

    def digest_for(rule):
        if streak != rule.failing_runs:
            return None
        return Digest(
            event=Event.SOURCE_FAILING,
            title=f"Source {context['source']} failed {plural(streak, 'run')} in a row",
            count=1,
            items=[
                {
                    "name": bounded(context["source"], NAME_LIMIT),
                    "url": context["run_url"],
                    "detail": f"{run.get_status_display()}: {first_error}"
                    if first_error
                    else run.get_status_display(),
                    "team": None,
                }
            ],
            link=absolute(reverse("dashboard:source", args=[run.source.name])),
            context={**context, "failed_runs": streak},
        )

    return create_deliveries(Event.SOURCE_FAILING, key, digest_for, rules)


# --- after decisions expire -------------------------------------------------------------------


def notify_expired(decision_ids: list[int]) -> list[Delivery]:
    """Accepted risks that just expired. A team's rule hears of an asset when the team is the
    one the risk was accepted for, or the asset's owner now."""
    decisions = list(
        TrackingDecision.objects.filter(
            pk__in=decision_ids, kind=TrackingDecision.Kind.ACCEPT
        ).select_related("asset__owner")
    )
    if not decisions:
        return []
    ids = ",".join(str(pk) for pk in sorted(d.pk for d in decisions))
    key = "expired:" + hashlib.sha256(ids.encode()).hexdigest()[:32]
    decisions.sort(key=lambda d: (d.asset.name, d.pk))

    def digest_for(rule):
        matched = [
            d
            for d in decisions
            if not rule.team_id or rule.team_id in (d.team_id, d.asset.owner_id)
        ]
        shown = matched[: settings.DAYLIGHT_NOTIFY_MAX_ITEMS]
        link = {"tracking": TrackingStatus.UNTRACKED}
        if rule.team_id:
            link = {"owner": rule.team.slug}
        return Digest(
            event=Event.RISK_EXPIRED,
            title=f"{plural(len(matched), 'accepted risk')} expired",
            count=len(matched),
            items=[asset_item(d.asset, f"Accepted: {d.reason}") for d in shown],
            link=assets_link(**link),
            context={},
        )

    with transaction.atomic():
        return create_deliveries(Event.RISK_EXPIRED, key, digest_for)
