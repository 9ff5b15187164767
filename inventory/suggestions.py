"""Who probably owns an untracked asset, and how sure we are: pure functions over evidence.

Each kind of evidence becomes a ``Signal`` for one team with a weight between 0 and 1:
  tag        a tag or label whose value reads like a team's slug or name (team=payments,
             owner=Data_Science), stronger under a key that names an owner;
  creator    the identity that created it owns other assets, mostly through one team;
  namespace  most owned assets in the same namespace or resource group belong to one team;
  account    most owned assets in the same account or project belong to one team;
  name       assets named like it (same stem: "checkout-api" for "checkout-api-7f9c2") belong
             mostly to one team.
Signals for the same team combine as independent evidence, 1 - product of (1 - weight); the
best team is the suggestion. Nothing here reads the database: ``inventory.selectors`` gathers
the tallies.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Tag keys whose value names an owner, as teams write them across the providers.
OWNER_KEYS = {
    "team",
    "owner",
    "owners",
    "owning-team",
    "squad",
    "group",
    "department",
    "cost-center",
    "costcenter",
    "business-unit",
    "app-owner",
    "maintainer",
    "contact",
}
TAG_UNDER_OWNER_KEY, TAG_ELSEWHERE = 0.7, 0.45
WEIGHTS = {"creator": 0.7, "namespace": 0.6, "name": 0.6, "account": 0.4}
# Fewest owned assets behind a majority before it counts as evidence.
MIN_SUPPORT = {"creator": 2, "namespace": 3, "name": 2, "account": 3}
MIN_SHARE = 0.5  # a majority is more than this share
HIGH, MEDIUM = 0.75, 0.45

_SEPARATORS = re.compile(r"[-_.\s/:]+")
_ENVIRONMENTS = {
    "prod",
    "production",
    "prd",
    "staging",
    "stage",
    "stg",
    "dev",
    "develop",
    "test",
    "qa",
    "uat",
    "sandbox",
    "tmp",
    "temp",
    "copy",
    "new",
    "old",
    "latest",
}
_VERSION = re.compile(r"^v\d+$")
_HEXISH = re.compile(r"^[0-9a-f]{5,}$")
_POD_SUFFIX = re.compile(r"^(?=[a-z0-9]*\d)[a-z0-9]{5}$")


@dataclass(frozen=True)
class Team:
    """What the suggestion needs of a team."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class Signal:
    """One reason to think ``team_id`` owns the asset, with its weight and its evidence in words."""

    kind: str
    team_id: int
    weight: float
    evidence: str


@dataclass(frozen=True)
class Suggestion:
    """The most likely owner, how sure (``confidence`` is "high", "medium" or "low"), and why."""

    team_id: int
    score: float
    signals: tuple[Signal, ...]

    @property
    def confidence(self) -> str:
        if self.score >= HIGH:
            return "high"
        return "medium" if self.score >= MEDIUM else "low"


def normalize(text: str) -> str:
    """A name as a slug would spell it: "Data_Science Team" → "data-science-team"."""
    return _SEPARATORS.sub("-", str(text).strip().lower()).strip("-")


def _team_forms(team: Team) -> set[str]:
    forms = {normalize(team.slug), normalize(team.name)}
    return forms | {f"{form}-team" for form in forms} | {f"team-{form}" for form in forms}


def tag_signals(labels: Mapping[str, str], teams: Iterable[Team]) -> list[Signal]:
    """A signal for every tag whose value reads like a team (its slug or its name, with or
    without "team"), strongest under an owner-like key."""
    by_form = {}
    for team in teams:
        for form in _team_forms(team):
            by_form.setdefault(form, team)
    signals = []
    for key, value in labels.items():
        team = by_form.get(normalize(value)) if isinstance(value, str) and value else None
        if team is None:
            continue
        owner_key = normalize(key) in OWNER_KEYS
        signals.append(
            Signal(
                "tag",
                team.id,
                TAG_UNDER_OWNER_KEY if owner_key else TAG_ELSEWHERE,
                f"tag {key}={value} names {team.name}",
            )
        )
    return signals


def majority_signal(kind: str, subject: str, tally: Mapping[int, int], teams) -> Signal | None:
    """A signal when most owned assets sharing ``subject`` (a creator, namespace, account or
    name stem) belong to one team; ``tally`` counts them per team id."""
    total = sum(tally.values())
    if total < MIN_SUPPORT[kind] or not subject:
        return None
    team_id, count = max(tally.items(), key=lambda item: (item[1], -item[0]))
    share = count / total
    if share <= MIN_SHARE or team_id not in teams:
        return None
    describe = {
        "creator": f"{subject} created it; {count} of their {total} owned assets are",
        "namespace": f"{count} of {total} owned assets in namespace {subject} are",
        "account": f"{count} of {total} owned assets in account {subject} are",
        "name": f"{count} of {total} owned assets named {subject}-… are",
    }[kind]
    return Signal(kind, team_id, round(WEIGHTS[kind] * share, 3), f"{describe} {teams[team_id]}")


def combine(signals: Iterable[Signal]) -> Suggestion | None:
    """The team the signals point to most, its combined score, and the signals behind it."""
    by_team: dict[int, list[Signal]] = {}
    for signal in signals:
        by_team.setdefault(signal.team_id, []).append(signal)
    if not by_team:
        return None
    scored = []
    for team_id, own in by_team.items():
        doubt = 1.0
        for signal in own:
            doubt *= 1 - signal.weight
        scored.append((round(1 - doubt, 3), team_id, own))
    score, team_id, own = max(scored, key=lambda item: (item[0], -item[1]))
    return Suggestion(team_id, score, tuple(sorted(own, key=lambda s: -s.weight)))


def name_stem(name: str) -> str:
    """The part of a name that says what the thing is, without the parts that say which copy:
    numbers, hashes, pod suffixes, versions and environments. "checkout-api-7f9c2-prod" and
    "checkout-api-002" both have the stem "checkout-api"."""
    parts = [part for part in normalize(name).split("-") if part]
    while len(parts) > 1 and _is_copy_marker(parts[-1]):
        parts.pop()
    return "-".join(parts)


def _is_copy_marker(part: str) -> bool:
    return (
        part.isdigit()
        or part in _ENVIRONMENTS
        or bool(_VERSION.match(part))
        or (bool(_HEXISH.match(part)) and any(c.isdigit() for c in part))
        or bool(_POD_SUFFIX.match(part))
    )


@dataclass(frozen=True)
class Evidence:
    """What is known around one untracked asset, as the selectors gathered it."""

    labels: Mapping[str, str]
    creator: str
    namespace: str
    account: str
    stem: str
    creator_tally: Mapping[int, int]
    namespace_tally: Mapping[int, int]
    account_tally: Mapping[int, int]
    name_tally: Mapping[int, int]


def suggest_owner(evidence: Evidence, teams: Iterable[Team]) -> Suggestion | None:
    """The suggested owner of an asset from all its evidence, or None when nothing points
    anywhere."""
    teams = list(teams)
    names = {team.id: team.name for team in teams}
    signals = tag_signals(evidence.labels, teams)
    for kind, subject, tally in (
        ("creator", evidence.creator, evidence.creator_tally),
        ("namespace", evidence.namespace, evidence.namespace_tally),
        ("account", evidence.account, evidence.account_tally),
        ("name", evidence.stem, evidence.name_tally),
    ):
        if signal := majority_signal(kind, subject, tally, names):
            signals.append(signal)
    return combine(signals)
