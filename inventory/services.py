"""Human decisions and configuration changes. Each is atomic, takes the acting user, and writes
its own audit row and asset history: background writes are recorded as explicitly as people's.
"""

from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .models import (
    ApiToken,
    Asset,
    AssetChange,
    AuditLog,
    Delivery,
    OwnershipRule,
    Report,
    Team,
    TrackingDecision,
)
from .ownership import decide_owner, load_rules
from .roles import grant_role, role_of
from .scoping import check_decision
from .selectors import (
    Move,
    carry_rollups,
    data_stamp,
    stamp_with_own_writes,
    trends_unmoved,
)

SYSTEM_ACTOR = "daylight"
OWNER_FIELDS = ("provider", "labels", "account", "namespace", "name")
# What the estate-wide figures count an asset by, besides its owner and tracking.
COUNTED_FIELDS = ("kind", "exposed", "eol", "max_severity", "gone_at")
BATCH = 2000


def audit(actor, action, obj=None, *, object_type="", before=None, after=None, note="") -> AuditLog:
    return AuditLog.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor else SYSTEM_ACTOR,
        action=action,
        object_type=object_type or (obj._meta.model_name if obj is not None else ""),
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        before=before,
        after=after,
        note=note,
    )


def refresh_ownership(asset_ids, *, actor=None, now=None) -> int:
    """Re-derive owner and tracking status of these assets from rules and active decisions,
    writing history for each that changes. Returns how many changed."""
    batches = _reowned(asset_ids, actor=actor, now=now or timezone.now())
    return sum(len({change.asset_id for change in history}) for _, history in batches)


def _reowned(asset_ids, *, actor, now):
    """``refresh_ownership`` a batch at a time, yielding for each the assets that changed (as
    ``Move``s: each with its owner and tracking before) and the history written."""
    rules = load_rules()
    team_names = dict(Team.objects.values_list("id", "name"))
    asset_ids = list(asset_ids)
    for start in range(0, len(asset_ids), BATCH):
        chunk = asset_ids[start : start + BATCH]
        assets = list(
            Asset.objects.filter(pk__in=chunk)
            .select_related("decision")
            .only(
                "id",
                "owner_id",
                "owner_basis",
                "owner_rule_id",
                "tracking",
                "decision",
                *OWNER_FIELDS,
                *COUNTED_FIELDS,
            )
        )
        moves, history = [], []
        for asset in assets:
            row = {f: getattr(asset, f) for f in OWNER_FIELDS}
            verdict = decide_owner(row, rules, asset.decision)
            before = (asset.owner_id, asset.tracking)
            after = (verdict.owner_id, verdict.basis, verdict.rule_id, verdict.tracking)
            if (asset.owner_id, asset.owner_basis, asset.owner_rule_id, asset.tracking) == after:
                continue
            asset.owner_id, asset.owner_basis, asset.owner_rule_id, asset.tracking = after
            if before[0] != asset.owner_id:
                history.append(
                    AssetChange(
                        asset=asset,
                        at=now,
                        field=AssetChange.Field.OWNER,
                        old=team_names.get(before[0]),
                        new=team_names.get(asset.owner_id),
                        actor=actor,
                    )
                )
            if before[1] != asset.tracking:
                history.append(
                    AssetChange(
                        asset=asset,
                        at=now,
                        field=AssetChange.Field.TRACKING,
                        old=before[1],
                        new=asset.tracking,
                        actor=actor,
                    )
                )
            moves.append(Move(asset, *before))
        Asset.objects.bulk_update(
            [move.asset for move in moves], ["owner", "owner_basis", "owner_rule", "tracking"]
        )
        AssetChange.objects.bulk_create(history)
        yield moves, history


def _decide(assets, actor, action, *, kind, team=None, reason="", expires_at=None, note=""):
    now = timezone.now()
    assets = list(assets)
    check_decision(actor, assets, team)
    with transaction.atomic():
        stamp = data_stamp()
        TrackingDecision.objects.filter(asset__in=assets, active=True).update(active=False)
        decisions = (
            TrackingDecision.objects.bulk_create(
                TrackingDecision(
                    asset=asset,
                    kind=kind,
                    team=team,
                    reason=reason,
                    expires_at=expires_at,
                    decided_by=actor,
                    decided_at=now,
                )
                for asset in assets
            )
            if kind
            else []
        )
        by_asset = {d.asset_id: d for d in decisions}
        for asset in assets:
            asset.decision = by_asset.get(asset.pk)
        Asset.objects.bulk_update(assets, ["decision"])
        moves, history = [], []
        for batch_moves, batch_history in _reowned([a.pk for a in assets], actor=actor, now=now):
            moves += batch_moves
            history += batch_history
        entries = [
            audit(
                actor,
                action,
                asset,
                after={
                    "team": team.name if team else None,
                    "reason": reason,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
                note=note,
            )
            for asset in assets
        ]
        _carry_figures(stamp, moves, history, entries, now)
    return len(assets)


def _carry_figures(stamp, moves, history, entries, now):
    """Once the decision is committed, the cached estate-wide figures move to the new data
    stamp with the decided assets counted where they are now, so the next view need not count
    the estate again; unless the stamp says another write came in since ``stamp`` was read
    (then the next view counts afresh)."""
    own = stamp_with_own_writes(
        stamp,
        max((change.pk for change in history), default=None),
        max((entry.pk for entry in entries), default=None),
    )
    if data_stamp() != own:
        return
    trends = trends_unmoved(moves, now)
    transaction.on_commit(partial(carry_rollups, stamp, own, moves, trends, now), robust=True)


def assign_owner(assets, team: Team, actor, reason="") -> int:
    """These assets belong to ``team``: tracked, whatever the rules say."""
    return _decide(
        assets, actor, "asset.assign", kind=TrackingDecision.Kind.ASSIGN, team=team, reason=reason
    )


def claim_for_team(assets, team: Team, actor, reason="") -> int:
    """A member of ``team`` says these assets are the team's: assigned like ``assign_owner``,
    and audited as a claim. Nobody claims for a team they are not in."""
    if not team.members.filter(pk=actor.pk).exists():
        raise PermissionDenied(f"Only members of {team.name} can claim assets for it.")
    return _decide(
        assets, actor, "asset.claim", kind=TrackingDecision.Kind.ASSIGN, team=team, reason=reason
    )


def accept_risk(assets, actor, reason: str, expires_at=None, team=None) -> int:
    """Known and allowed, for ``reason``, until ``expires_at`` (then it reopens itself)."""
    if not reason.strip():
        raise ValueError("Accepting a risk needs a reason.")
    return _decide(
        assets,
        actor,
        "asset.accept_risk",
        kind=TrackingDecision.Kind.ACCEPT,
        team=team,
        reason=reason,
        expires_at=expires_at,
    )


def clear_decision(assets, actor, reason="") -> int:
    """Forget the human decision: the rules decide again."""
    return _decide(assets, actor, "asset.clear_decision", kind=None, reason=reason)


def expire_decisions(now=None) -> int:
    """Deactivate decisions past their expiry so the assets are judged afresh."""
    now = now or timezone.now()
    expired = list(
        TrackingDecision.objects.filter(active=True, expires_at__lte=now).select_related("asset")
    )
    if not expired:
        return 0
    with transaction.atomic():
        TrackingDecision.objects.filter(pk__in=[d.pk for d in expired]).update(active=False)
        Asset.objects.filter(decision__in=expired).update(decision=None)
        refresh_ownership([d.asset_id for d in expired], now=now)
        for decision in expired:
            audit(
                None,
                "asset.decision_expired",
                decision.asset,
                before={
                    "kind": decision.kind,
                    "reason": decision.reason,
                    "expires_at": decision.expires_at.isoformat(),
                },
            )
        transaction.on_commit(partial(_notify_expired, [d.pk for d in expired]), robust=True)
    return len(expired)


def retry_delivery(delivery: Delivery, actor) -> Delivery:
    """Send a failed notification again (once its channel is fixed), with a fresh set of
    retries."""
    if delivery.status != Delivery.Status.FAILED:
        raise ValueError("Only a failed notification can be retried.")
    with transaction.atomic():
        before = {"status": delivery.status, "last_error": delivery.last_error}
        Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.PENDING)
        delivery.status = Delivery.Status.PENDING
        audit(actor, "delivery.retry", delivery, before=before, after={"status": delivery.status})
        transaction.on_commit(partial(_queue_delivery, delivery.pk), robust=True)
    return delivery


def _queue_delivery(delivery_id):
    from .notifications.events import queue_delivery

    queue_delivery(delivery_id)


def _notify_expired(decision_ids):
    from .tasks import notify_expired

    notify_expired.delay(decision_ids)


def save_config(obj, actor, related=None):
    """Validate and save a source, team or rule, auditing its state before and after.
    ``related`` ({many-to-many field: objects}, such as a team's members) is set in the same
    change, so the one audit row shows it too. (A source's beat schedule follows it; see
    inventory.signals.)"""
    with transaction.atomic():
        before = type(obj).objects.get(pk=obj.pk).snapshot() if obj.pk else None
        obj.full_clean()
        obj.save()
        for name, values in (related or {}).items():
            getattr(obj, name).set(values)
        verb = "update" if before else "create"
        audit(actor, f"{obj.audit_type}.{verb}", obj, before=before, after=obj.snapshot())
    return obj


def delete_config(obj, actor):
    with transaction.atomic():
        audit(actor, f"{obj.audit_type}.delete", obj, before=obj.snapshot())
        obj.delete()


def save_rule(rule: OwnershipRule, actor) -> int:
    """Create or change an ownership rule and re-derive every live asset's owner."""
    check_decision(actor, team=rule.team if rule.team_id else None)
    with transaction.atomic():
        save_config(rule, actor)
        return refresh_ownership(_live_asset_ids(), actor=actor)


def delete_rule(rule: OwnershipRule, actor) -> int:
    with transaction.atomic():
        delete_config(rule, actor)
        return refresh_ownership(_live_asset_ids(), actor=actor)


def _live_asset_ids():
    live = Asset.objects.filter(gone_at__isnull=True).values_list("id", flat=True)
    return live.iterator(chunk_size=10_000)


def apply_idp_access(user, role: str | None, teams, managed_teams, *, note=""):
    """Make the user's role and their membership of the teams the identity provider manages
    (``managed_teams``) what it says at this sign-in: ``role`` and ``teams``. Memberships of
    other teams are Daylight's own and left alone. Audited when anything changed."""
    with transaction.atomic():
        before = _access_of(user)
        grant_role(user, role)
        wanted = {team.pk for team in teams}
        user.teams.remove(*(team for team in managed_teams if team.pk not in wanted))
        user.teams.add(*teams)
        after = _access_of(user)
        if after != before:
            audit(None, "user.sso_access", user, before=before, after=after, note=note)
    return after


def _access_of(user) -> dict:
    return {"role": role_of(user), "teams": sorted(user.teams.values_list("slug", flat=True))}


def request_report(actor, team=None, *, email=False) -> Report:
    """An admin asks for a posture report of the organisation (``team`` None) or one team now;
    it is made by a task once this commits."""
    from .reports import making

    with transaction.atomic():
        report = making.create(team, trigger=Report.Trigger.MANUAL, actor=actor, email=email)
        audit(
            actor,
            "report.generate",
            report,
            after={"scope": report.scope_name, "email": email},
        )
        transaction.on_commit(partial(_queue_report, report.pk), robust=True)
    return report


def _queue_report(report_id):
    from .tasks import make_report

    make_report.delay(report_id)


def issue_api_token(token: ApiToken, actor) -> str:
    """Save a new API token with a fresh secret, audited. Returns the secret: it is shown once
    and stored nowhere (the database keeps its hash)."""
    with transaction.atomic():
        secret = token.set_new_secret()
        token.full_clean()
        token.save()
        audit(actor, "api_token.create", token, after=token.snapshot())
    return secret


def revoke_api_token(token: ApiToken, actor) -> bool:
    """Refuse the token from now on, audited. False if it was revoked already."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return False
        before = token.snapshot()
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit(actor, "api_token.revoke", token, before=before, after=token.snapshot())
    return True
