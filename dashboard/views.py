"""The dashboard's pages. Each reads through ``inventory.selectors`` and renders on the server;
JavaScript is never needed to read anything."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import get_object_or_404, render

from inventory import selectors
from inventory.models import Asset, Team

from . import exports
from .filters import AssetFilterForm, as_params, chips, keys_for, sort_links
from .paging import capped_count, keyset_page


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


def _filtered_assets(request):
    form = AssetFilterForm(request.GET, selectors.team_choices())
    criteria, sort = form.criteria(), form.ordering()
    return form, criteria, sort, selectors.assets_matching(criteria)


def assets(request):
    """The explorer: every asset, narrowed by the filters in the URL, a keyset page at a time."""
    form, criteria, sort, matching = _filtered_assets(request)
    page = keyset_page(
        selectors.asset_rows(matching),
        keys_for(sort),
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    exact = request.GET.get("count") == "exact"
    if exact:
        count, more = matching.count(), False
    else:
        count, more = capped_count(matching)
    params = as_params(criteria, sort)
    active = chips(form, criteria, sort)
    context = {
        "form": form,
        "criteria": criteria,
        "chips": active,
        "more_active": form.secondary_active(criteria),
        "rejected": form.rejected(),
        "sorts": sort_links(criteria, sort),
        "page": page,
        "count": count,
        "count_more": more,
        "exact_count_url": "?" + urlencode({**params, "count": "exact"}),
        "next_url": "?" + urlencode({**params, "after": page.next_token}),
        "previous_url": "?" + urlencode({**params, "before": page.previous_token}),
        "first_url": "?" + urlencode(params),
        "export_url": "export.csv?" + urlencode(params),
    }
    return render(request, "dashboard/assets.html", context)


def assets_export(request):
    """The explorer's current filter and order as CSV, every matching row."""
    _, _, sort, matching = _filtered_assets(request)
    ordered = selectors.asset_rows(matching).order_by(*(k.order_by() for k in keys_for(sort)))
    return exports.assets_csv(ordered)
