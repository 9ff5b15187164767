"""Team scoping. With ``DAYLIGHT_TEAM_SCOPING`` on, a reconciler sees and decides only for the
assets of the teams they are a member of, plus the unowned pool (the untracked assets nobody
answers for yet, which is where claiming happens). Viewers read everything and decide nothing;
admins see and decide everything.

Every list, page, figure and API call that shows assets narrows them through the user's
``Visibility`` (``visibility_of``), and every decision is checked by ``check_decision`` in
``inventory.services``: one rule, one place. Figures are counted over the visible assets only,
and cached under ``Visibility.key``, so a scoped reconciler never reads the estate's figures.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Q
from django.db.models.functions import Cast

from .models import Asset, Report, Team
from .roles import RECONCILER, role_of


def is_scoped(user) -> bool:
    """True when team scoping narrows what this user sees and decides."""
    return settings.DAYLIGHT_TEAM_SCOPING and role_of(user) == RECONCILER


@dataclass(frozen=True)
class Visibility:
    """What one person may see: the whole estate (``team_ids`` None), or the assets of the
    teams with these ids plus the unowned pool."""

    team_ids: tuple[int, ...] | None = None

    @property
    def everything(self) -> bool:
        return self.team_ids is None

    @property
    def key(self) -> str:
        """Names the visible set in the keys of figures cached over it: people who see the
        same assets share them, and nobody reads figures counted over more."""
        if self.team_ids is None:
            return "all"
        return "teams:" + ",".join(str(pk) for pk in self.team_ids)

    def assets(self, assets=None):
        """``assets`` (every asset by default) narrowed to the visible ones."""
        assets = Asset.objects.all() if assets is None else assets
        if self.team_ids is None:
            return assets
        return assets.filter(Q(owner__isnull=True) | Q(owner__in=self.team_ids))

    def about(self, rows, field="asset"):
        """Rows about assets (findings, access events, changes) narrowed to visible assets."""
        if self.team_ids is None:
            return rows
        return rows.filter(**{f"{field}__in": self.assets()})

    def sees(self, asset) -> bool:
        """Whether one asset already read is visible (no query)."""
        return self.sees_owner(asset.owner_id)

    def sees_owner(self, owner_id) -> bool:
        """Whether the assets of this owning team id (None: the unowned pool) are visible."""
        return self.team_ids is None or owner_id is None or owner_id in self.team_ids

    def teams(self, teams=None):
        """``teams`` (every team by default) narrowed to those whose assets are visible."""
        teams = Team.objects.all() if teams is None else teams
        return teams if self.team_ids is None else teams.filter(pk__in=self.team_ids)

    def audit(self, entries):
        """Audit rows narrowed to the decisions about visible assets. Configuration changes
        (sources, rules, teams, users, notifications, reports, retention) say who may do
        what and where Daylight looks: they are for viewers and admins, not a team's
        reconciler."""
        if self.team_ids is None:
            return entries
        ids = self.assets().annotate(text_id=Cast("id", CharField())).values("text_id")
        return entries.filter(object_type="asset", object_id__in=ids)


EVERYTHING = Visibility()


def visibility_of(user) -> Visibility:
    """The user's visibility: everything, or for a scoped reconciler their teams' assets and
    the unowned pool (one query for their teams)."""
    if not is_scoped(user):
        return EVERYTHING
    return Visibility(tuple(sorted(user.teams.values_list("pk", flat=True))))


def visible_assets(user, assets=None):
    """``assets`` (every asset by default) narrowed to those the user may see."""
    return visibility_of(user).assets(assets)


def visible_reports(user, reports=None):
    """Posture reports the user may read: all, or for a scoped reconciler their own teams'
    (the organisation's counts every team's assets, like the overview they do not see)."""
    reports = Report.objects.all() if reports is None else reports
    if not is_scoped(user):
        return reports
    return reports.filter(scope=Report.Scope.TEAM, team__in=Team.objects.filter(members=user))


def decidable_teams(user, teams):
    """The teams the user may assign assets to (or create rules for), out of ``teams``."""
    if not is_scoped(user):
        return teams
    mine = set(user.teams.values_list("pk", flat=True))
    return [team for team in teams if team.pk in mine]


def check_decision(user, assets=(), team=None) -> None:
    """Refuse a scoped reconciler's decision about assets outside their scope, or for a team
    they are not a member of."""
    if not is_scoped(user):
        return
    ids = {asset.pk for asset in assets}
    if ids and visible_assets(user, Asset.objects.filter(pk__in=ids)).count() != len(ids):
        raise PermissionDenied("You decide only for your teams' assets and unowned ones.")
    if team is not None and not user.teams.filter(pk=team.pk).exists():
        raise PermissionDenied(f"You are not a member of {team.name}.")
