"""Who is accountable for an asset, and therefore whether it is tracked or shadow IT."""

from dataclasses import dataclass
from types import SimpleNamespace

from .models import OwnerBasis, OwnershipRule, TrackingDecision, TrackingStatus


@dataclass(frozen=True)
class OwnerVerdict:
    owner_id: int | None
    basis: str
    rule_id: int | None
    tracking: str


UNOWNED = OwnerVerdict(None, OwnerBasis.NONE, None, TrackingStatus.UNTRACKED)


def load_rules() -> list[OwnershipRule]:
    return list(OwnershipRule.objects.filter(enabled=True).order_by("position", "id"))


def decide_owner(row: dict, rules: list[OwnershipRule], decision: TrackingDecision | None):
    """A human decision wins; otherwise the first matching rule; otherwise nobody (untracked).

    ``row`` holds at least provider, labels, account, namespace and name.
    """
    if decision is not None and decision.active:
        if decision.kind == TrackingDecision.Kind.ACCEPT:
            return OwnerVerdict(
                decision.team_id, OwnerBasis.DECISION, None, TrackingStatus.ACCEPTED
            )
        if decision.team_id:
            return OwnerVerdict(decision.team_id, OwnerBasis.DECISION, None, TrackingStatus.TRACKED)
    facts = SimpleNamespace(
        **{k: row[k] for k in ("provider", "labels", "account", "namespace", "name")}
    )
    for rule in rules:
        if rule.matches(facts):
            return OwnerVerdict(rule.team_id, OwnerBasis.RULE, rule.id, TrackingStatus.TRACKED)
    return UNOWNED
