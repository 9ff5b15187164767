"""The dashboard's pages. Each reads through ``inventory.selectors`` and renders on the server;
JavaScript is never needed to read anything."""

from django.http import Http404
from django.shortcuts import get_object_or_404, render

from inventory import selectors
from inventory.models import Asset, Team


def overview(request):
    return render(request, "dashboard/overview.html", selectors.overview())


def asset_detail(request, pk):
    try:
        asset = selectors.asset_for_page(pk)
    except Asset.DoesNotExist:
        raise Http404("No such asset.") from None
    return render(
        request, "dashboard/asset_detail.html", {"asset": asset, **selectors.asset_detail(asset)}
    )


def team_list(request):
    context = {"teams": selectors.teams(), "untracked": selectors.untracked_count()}
    return render(request, "dashboard/team_list.html", context)


def team_detail(request, slug):
    team = get_object_or_404(Team, slug=slug)
    return render(
        request, "dashboard/team_detail.html", {"team": team, **selectors.team_detail(team)}
    )
