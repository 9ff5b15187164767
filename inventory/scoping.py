"""Team scoping. With ``DAYLIGHT_TEAM_SCOPING`` on, a reconciler sees and decides only for the
assets of the teams they are a member of, plus the unowned pool (the untracked assets nobody
answers for yet, which is where claiming happens). Viewers read everything and decide nothing;
admins see and decide everything.

Every list, page and API call that shows assets narrows them through ``visible_assets``, and
every decision is checked by ``check_decision`` in ``inventory.services``: one rule, one place.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from .models import Asset, Report, Team
from .roles import RECONCILER, role_of


def is_scoped(user) -> bool:
    """True when team scoping narrows what this user sees and decides."""
    return settings.DAYLIGHT_TEAM_SCOPING and role_of(user) == RECONCILER


def visible_assets(user, assets=None):
    """``assets`` (every asset by default) narrowed to those the user may see."""
    assets = Asset.objects.all() if assets is None else assets
    if not is_scoped(user):
        return assets
    return assets.filter(Q(owner__isnull=True) | Q(owner__in=Team.objects.filter(members=user)))


def visible_about_assets(user, rows, field="asset"):
    """Rows about assets (findings, access events) narrowed to the assets the user may see."""
    if not is_scoped(user):
        return rows
    return rows.filter(**{f"{field}__in": visible_assets(user)})


def visible_reports(user, reports=None):
    """Posture reports the user may read: all, or for a scoped reconciler the organisation's
    and their own teams'."""
    reports = Report.objects.all() if reports is None else reports
    if not is_scoped(user):
        return reports
    return reports.filter(
        Q(scope=Report.Scope.ORGANISATION) | Q(team__in=Team.objects.filter(members=user))
    )


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
