from django.shortcuts import get_object_or_404, render

from inventory import selectors
from inventory.models import Asset, Team


def overview(request):
    return render(request, "dashboard/overview.html", selectors.overview())


def asset_detail(request, pk):
    asset = get_object_or_404(
        Asset.objects.select_related("owner", "scope__source", "parent"), pk=pk
    )
    return render(
        request, "dashboard/asset_detail.html", {"asset": asset, **selectors.asset_detail(asset)}
    )


def team_detail(request, slug):
    team = get_object_or_404(Team, slug=slug)
    return render(
        request, "dashboard/team_detail.html", {"team": team, **selectors.team_detail(team)}
    )
