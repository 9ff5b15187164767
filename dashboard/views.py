"""The dashboard's pages. Each reads through ``inventory.selectors`` and renders on the server;
JavaScript is never needed to read anything."""

from datetime import datetime
from functools import wraps
from typing import NamedTuple
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from kombu.exceptions import OperationalError

from collectors.tasks import collect_source
from inventory import scoping, search, selectors, services
from inventory.models import Asset, CollectionRun, Delivery, Report, RunTrigger, Source, Team
from inventory.reports import files as report_files
from inventory.roles import ADMIN, RECONCILER, has_role
from inventory.siem.status import export_status

from . import charts, exports
from .filters import (
    AssetFilterForm,
    as_params,
    assets_url,
    chips,
    is_walkable,
    keys_for,
    sort_links,
)
from .forms import (
    AccessFilterForm,
    AuditFilterForm,
    DecisionForm,
    RunFilterForm,
    SavedViewForm,
    default_expiry,
)
from .models import SavedView
from .paging import COUNT_CAP, SortKey, capped_count, keyset_page

# The queue's ranking (see selectors.untracked_queue): exposed first, then the worst open
# finding, then end of life, then the longest unclaimed.
QUEUE_ORDER = [
    SortKey("exposed", descending=True, type=bool),
    SortKey("severity_rank", descending=True, type=int),
    SortKey("eol", descending=True, type=bool),
    SortKey("first_seen", type=datetime),
    SortKey("id", type=int),
]
QUEUE_FILTERS = ("q", "provider", "kind", "account", "namespace", "exposed")
NEWEST_FIRST = {
    "reports": [SortKey("created_at", True, datetime), SortKey("id", True, int)],
    "runs": [SortKey("started_at", True, datetime), SortKey("id", True, int)],
    "audit": [SortKey("at", True, datetime), SortKey("id", True, int)],
    "access": [SortKey("occurred_at", True, datetime), SortKey("id", True, int)],
    "deliveries": [SortKey("created_at", True, datetime), SortKey("id", True, int)],
}


def role_required(role):
    """Views that change something: anyone below ``role`` gets 403, whatever the page showed."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role} role.")
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def _page_links(params, page):
    return {
        "next_url": "?" + urlencode({**params, "after": page.next_token}),
        "previous_url": "?" + urlencode({**params, "before": page.previous_token}),
        "first_url": "?" + urlencode(params),
    }


# The exposure chart's segments: exposed assets by tracking status, then the rest.
EXPOSURE_PARTS = [
    ("exposed_untracked", "exposed, untracked"),
    ("exposed_accepted", "exposed, accepted"),
    ("exposed_tracked", "exposed, tracked"),
]


def _exposure_rows(matrix):
    rows = []
    for row in matrix:
        provider = row["provider"]
        rows.append(
            {
                "label": row["label"],
                "total": row["total"],
                "url": assets_url(provider=provider, exposed="yes"),
                "exposed_untracked": row["exposed_untracked"],
                "exposed_accepted": row["exposed_accepted"],
                "exposed_tracked": row["exposed"]
                - row["exposed_untracked"]
                - row["exposed_accepted"],
                "urls": {
                    **{
                        key: assets_url(provider=provider, exposed="yes", tracking=status)
                        for key, status in (
                            ("exposed_untracked", "untracked"),
                            ("exposed_accepted", "accepted"),
                            ("exposed_tracked", "tracked"),
                        )
                    },
                    "rest": assets_url(provider=provider, exposed="no"),
                },
            }
        )
    return rows


@require_safe
def overview(request):
    visible = scoping.visibility_of(request.user)
    context = selectors.overview(visible=visible)
    days = 90 if request.GET.get("trend") == "90" else 30
    untracked = context["totals"]["untracked"]
    series = selectors.untracked_trend(days, untracked, context["stamp"], visible=visible)
    context.update(
        trend=charts.trend(series),
        trend_days=days,
        trend_days_label=f"{days} days",
        trend_options=selectors.TREND_DAYS,
        exposure=charts.stacked_bars(_exposure_rows(context["matrix"]), EXPOSURE_PARTS),
        exposure_legend=[*EXPOSURE_PARTS, ("rest", "not exposed")],
        latest_report=_latest_report(request.user, Report.objects.filter(scope="organisation")),
    )
    return render(request, "dashboard/overview.html", context)


def _latest_report(user, reports):
    """The newest ready report of ``reports`` the user may read (None for a scoped reconciler
    asking for the organisation's): where a page links to its posture report."""
    visible = scoping.visible_reports(user, reports.filter(status=Report.Status.READY))
    return visible.order_by("-created_at", "-pk").first()


@require_safe
def asset_detail(request, pk):
    visible = scoping.visibility_of(request.user)
    try:
        asset = selectors.asset_for_page(pk, visible.assets())
    except Asset.DoesNotExist:
        raise Http404("No such asset.") from None
    context = {"asset": asset, **selectors.asset_detail(asset, visible)}
    if asset.kind in selectors.HOST_KINDS:
        hosted = visible.assets(selectors.assets_matching({"runs_on": asset.key}, visible))
        count, more = capped_count(hosted)
        context["running_on"] = {"count": count, "more": more, "url": assets_url(runs_on=asset.key)}
    if asset.tracking == "untracked" and not asset.gone_at:
        teams = selectors.teams_for_choice(member=request.user)
        context["evidence"] = selectors.queue_evidence([asset], teams, visible)[asset.pk]
        context["teams"] = teams
    if has_role(request.user, RECONCILER) and not asset.gone_at:
        teams = context.get("teams") or selectors.teams_for_choice(request.user)
        context["teams"] = scoping.decidable_teams(request.user, teams)
        context["my_teams"] = selectors.my_teams(teams)
        context["default_expiry"] = default_expiry()
        context["here"] = request.get_full_path()
    return render(request, "dashboard/asset_detail.html", context)


@require_safe
def team_list(request):
    visible = scoping.visibility_of(request.user)
    return render(request, "dashboard/team_list.html", selectors.teams(visible))


@require_safe
def team_detail(request, slug):
    """A team's figures, people and assets; for a scoped reconciler only their own teams'."""
    visible = scoping.visibility_of(request.user)
    team = get_object_or_404(visible.teams(), slug=slug)
    details = selectors.team_detail(team, visible.assets())
    latest_report = _latest_report(request.user, team.reports.all())
    context = {"team": team, "latest_report": latest_report, **details}
    return render(request, "dashboard/team_detail.html", context)


@require_safe
def unowned(request):
    """The assets nobody owns, on a page shaped like a team's: everyone who reads the Teams list
    reads it, a scoped reconciler included (the unowned pool is where they claim from)."""
    visible = scoping.visibility_of(request.user)
    return render(request, "dashboard/unowned.html", selectors.unowned_detail(visible.assets()))


class Searched(NamedTuple):
    """A listing narrowed by its text search (see ``_text_search``)."""

    assets: QuerySet
    walk: QuerySet | None  # what its page walks first (paging.keyset_page), or None
    found: int | None  # matches the search counted (up to search.FEW_MATCHES + 1), or None

    def capped_count(self) -> tuple[int, bool]:
        """``paging.capped_count`` of the assets, without counting again what the search
        already counted."""
        if self.found is not None and self.found <= search.FEW_MATCHES:
            return min(self.found, COUNT_CAP), self.found > COUNT_CAP
        if self.found is not None and self.found > COUNT_CAP:
            return COUNT_CAP, True
        return capped_count(self.assets)


def _text_search(listing, text, walkable=True) -> Searched:
    """``listing`` narrowed by the text search, if any. When the matches are many and an index
    gives the page's order, its page walks ``listing`` itself first (``keyset_page``: early
    matches are met walking it, late ones by reading every match)."""
    if not text:
        return Searched(listing, None, None)
    matching, found = search.containing(listing, text)
    many = found is not None and found > search.FEW_MATCHES
    return Searched(matching, listing if many and walkable else None, found)


def _filtered_assets(request):
    """The explorer's form, criteria, sort and the assets they ask for (``Searched``)."""
    form = AssetFilterForm(request.GET, selectors.team_choices())
    criteria, sort = form.criteria(), form.ordering()
    visible = scoping.visibility_of(request.user)
    listing = visible.assets(selectors.assets_matching(criteria, visible))
    found = _text_search(listing, criteria.get("q"), is_walkable(criteria, sort))
    return form, criteria, sort, found


@require_safe
def assets(request):
    """The explorer: every asset, narrowed by the filters in the URL, a keyset page at a time."""
    form, criteria, sort, found = _filtered_assets(request)
    page = keyset_page(
        selectors.asset_rows(found.assets),
        keys_for(sort),
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        walk=found.walk,
    )
    exact = request.GET.get("count") == "exact"
    if exact:
        count, more = found.assets.count(), False
    else:
        count, more = found.capped_count()
    params = as_params(criteria, sort)
    active = chips(form, criteria, sort)
    query = urlencode(params)  # as a saved view stores it (forms.explorer_query)
    context = {
        **_saved_views(request.user, query),
        "query": query,
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
        "export_url": "export.csv?" + urlencode(params),
        **_page_links(params, page),
    }
    return render(request, "dashboard/assets.html", context)


SAVED_VIEWS_SHOWN = 200


def _saved_views(user, query) -> dict:
    """The user's own saved views and those others share, in one query; the one whose filters
    are on screen is ``current_view``."""
    views = list(
        SavedView.objects.filter(Q(owner=user) | Q(shared=True))
        .select_related("owner")
        .only("id", "name", "query", "shared", "owner__username")[:SAVED_VIEWS_SHOWN]
    )
    mine = [view for view in views if view.owner_id == user.pk]
    current = next((view for view in mine if view.query == query), None)
    shared = [view for view in views if view.owner_id != user.pk]
    current = current or next((view for view in shared if view.query == query), None)
    return {
        "my_views": mine,
        "shared_views": shared,
        "saved_count": len(views),
        "current_view": current,
    }


@require_POST
def save_view(request):
    """Save the explorer's filters under a name. Anyone signed in may: it decides nothing."""
    form = SavedViewForm(request.POST, request.user)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"The view was not saved: {problems}")
        return redirect(_next_url(request, reverse("dashboard:assets")))
    view, created = form.save()
    verb = "Saved" if created else "Replaced"
    messages.success(request, f"{verb} the view “{view.name}”.")
    return redirect(view.get_absolute_url())


@require_POST
def delete_view(request, pk):
    """Delete one of the user's own saved views (others' are not theirs to delete)."""
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    view.delete()
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect(_next_url(request, reverse("dashboard:assets")))


def _next_url(request, default) -> str:
    """Where a form posted from a page goes back to: ``next``, if it stays on this site."""
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return default


@require_safe
def assets_export(request):
    """The explorer's current filter and order as CSV, every matching row."""
    _, _, sort, found = _filtered_assets(request)
    ordered = selectors.asset_rows(found.assets).order_by(*(k.order_by() for k in keys_for(sort)))
    return exports.assets_csv(ordered)


@require_safe
def reconcile(request):
    """The queue: untracked assets, riskiest first, each with its evidence and a suggested
    owner; reconcilers decide one by one or on a selection."""
    form = AssetFilterForm(request.GET, selectors.team_choices())
    criteria = {k: v for k, v in form.criteria().items() if k in QUEUE_FILTERS}
    visible = scoping.visibility_of(request.user)
    queue = _text_search(visible.assets(selectors.untracked_queue(criteria)), criteria.get("q"))
    page = keyset_page(
        selectors.asset_rows(queue.assets),
        QUEUE_ORDER,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        walk=queue.walk,
    )
    teams = selectors.teams_for_choice(member=request.user)
    evidence = selectors.queue_evidence(page.rows, teams, visible)
    count, more = queue.capped_count()
    params = as_params(criteria)
    context = {
        "form": form,
        "filter_fields": [form[name] for name in QUEUE_FILTERS],
        "chips": chips(form, criteria, "name"),
        "rows": [(asset, evidence[asset.pk], selectors.risk_reasons(asset)) for asset in page.rows],
        "page": page,
        "count": count,
        "count_more": more,
        "teams": scoping.decidable_teams(request.user, teams),
        "my_teams": selectors.my_teams(teams),
        "default_expiry": default_expiry(),
        "here": request.get_full_path(),
        **_page_links(params, page),
    }
    return render(request, "dashboard/reconcile.html", context)


def _back(request, url):
    """Back to where the decision was made; htmx is told to go there itself, so the message
    shows on a full page."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_POST
@role_required(RECONCILER)
def decide(request):
    """Apply a reconciler's decision, then go back where it was made. With htmx (a single row
    decided in place) the answer is the row's replacement instead."""
    form = DecisionForm(request.POST, request.user)
    back = _next_url(request, reverse("dashboard:reconcile"))
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was changed: {problems}")
        return _back(request, back)
    try:
        outcome = form.apply(request.user)
    except (ValidationError, ValueError) as error:
        problems = "; ".join(getattr(error, "messages", [str(error)]))
        messages.error(request, f"Nothing was changed: {problems}")
        return _back(request, back)
    if request.headers.get("HX-Request"):
        context = {"outcome": outcome, "assets": form.cleaned_data["asset"]}
        return render(request, "dashboard/includes/decided_row.html", context)
    messages.success(request, outcome)
    return redirect(back)


# --- sources and runs -----------------------------------------------------------------------


def _run_history(request, source=None):
    form = RunFilterForm(request.GET)
    criteria = form.criteria()
    page = keyset_page(
        selectors.runs(source, criteria.get("status", "")),
        NEWEST_FIRST["runs"],
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        size=25,
    )
    return {"run_form": form, "page": page, **_page_links(criteria, page)}


@require_safe
def sources(request):
    """Every source: schedule, last run, scopes, live assets; then the run history."""
    visible = scoping.visibility_of(request.user)
    context = {"sources": selectors.sources_page(visible=visible), **_run_history(request)}
    if has_role(request.user, ADMIN):
        context["export_destinations"] = export_status()
    return render(request, "dashboard/sources.html", context)


@require_safe
def source_detail(request, name):
    source = get_object_or_404(Source, name=name)
    context = {
        "source": source,
        "scopes": selectors.source_scopes(source, scoping.visibility_of(request.user)),
        "next_run": selectors.next_run(source.schedule, timezone.now()) if source.enabled else None,
        **_run_history(request, source),
    }
    return render(request, "dashboard/source_detail.html", context)


@require_safe
def run_detail(request, pk):
    try:
        run = selectors.run_detail(pk)
    except CollectionRun.DoesNotExist:
        raise Http404("No such run.") from None
    return render(request, "dashboard/run_detail.html", {"run": run})


@require_POST
@role_required(ADMIN)
def run_now(request, name):
    """Queue a collection of the source now (it runs in-process when there is no broker)."""
    source = get_object_or_404(Source, name=name)
    back = reverse("dashboard:source", args=[source.name])
    if not source.enabled:
        messages.error(request, f"{source.name} is disabled: enable it to collect.")
        return redirect(back)
    try:
        collect_source.delay(source.pk, RunTrigger.MANUAL.value)
    except OperationalError as error:
        messages.error(request, f"The task queue cannot be reached: {error}")
        return redirect(back)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        messages.success(request, f"Collected {source.name} now: see its latest run below.")
    else:
        messages.success(
            request, f"Queued a collection of {source.name}; it shows below when it starts."
        )
    return redirect(back)


# --- audit log ------------------------------------------------------------------------------


@require_safe
def audit(request):
    """Every human decision and configuration change, newest first; read-only. A scoped
    reconciler reads the decisions about the assets they can see."""
    form = AuditFilterForm(request.GET, selectors.AUDIT_ACTIONS)
    criteria = form.criteria()
    entries = scoping.visibility_of(request.user).audit(selectors.audit_entries(criteria))
    page = keyset_page(
        entries.select_related("actor"),
        NEWEST_FIRST["audit"],
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    context = {
        "form": form,
        "criteria": criteria,
        "entries": [(entry, selectors.audit_changes(entry)) for entry in page.rows],
        "actions": selectors.AUDIT_ACTIONS,
        "objects": selectors.AUDIT_OBJECTS,
        "page": page,
        **_page_links(as_params(criteria), page),
    }
    return render(request, "dashboard/audit.html", context)


# --- notifications --------------------------------------------------------------------------


@require_safe
@role_required(ADMIN)
def notifications(request):
    """Rules, channels and every notification sent or not, failures first to the eye."""
    status = request.GET.get("status", "")
    if status not in Delivery.Status.values:
        status = ""
    page = keyset_page(
        selectors.deliveries(status),
        NEWEST_FIRST["deliveries"],
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        size=25,
    )
    context = {
        "rules": selectors.notification_rules(),
        "channels": selectors.notification_channels(),
        "counts": selectors.delivery_counts(),
        "statuses": Delivery.Status.choices,
        "status": status,
        "page": page,
        **_page_links({"status": status} if status else {}, page),
    }
    return render(request, "dashboard/notifications.html", context)


@require_POST
@role_required(ADMIN)
def retry_delivery(request, pk):
    delivery = get_object_or_404(Delivery, pk=pk)
    try:
        services.retry_delivery(delivery, request.user)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Sending “{delivery.title}” again.")
    return redirect(reverse("dashboard:notifications") + "?status=" + Delivery.Status.FAILED)


# --- access history and versions ------------------------------------------------------------


@require_safe
def access(request):
    """Who did what to which (visible) asset, across providers; with an actor, what it has
    touched."""
    form = AccessFilterForm(request.GET)
    criteria = form.criteria()
    visible = scoping.visibility_of(request.user)
    events = visible.about(selectors.access_events(criteria))
    page = keyset_page(
        events,
        NEWEST_FIRST["access"],
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    count, more = capped_count(events)
    actor = criteria.get("actor")
    context = {
        "form": form,
        "criteria": criteria,
        "page": page,
        "count": count,
        "count_more": more,
        "actor": actor,
        "summary": selectors.actor_summary(actor, visible) if actor else None,
        **_page_links(as_params(criteria), page),
    }
    return render(request, "dashboard/access.html", context)


@require_safe
def versions(request):
    """What runs in which version: runtimes, cluster and engine versions, images."""
    visible = scoping.visibility_of(request.user)
    return render(request, "dashboard/versions.html", selectors.versions(visible=visible))


# --- posture reports -------------------------------------------------------------------------


@require_safe
def reports(request):
    """Posture reports, newest first, with their files; admins ask for one here."""
    page = keyset_page(
        scoping.visible_reports(request.user).select_related("requested_by"),
        NEWEST_FIRST["reports"],
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    context = {
        "page": page,
        "teams": selectors.teams_for_choice(),
        "schedule": settings.DAYLIGHT_REPORT_SCHEDULE,
        "recipients": bool(settings.DAYLIGHT_REPORT_RECIPIENTS),
        **_page_links({}, page),
    }
    return render(request, "dashboard/reports.html", context)


@require_POST
@role_required(ADMIN)
def report_generate(request):
    """An admin asks for a report of the organisation or one team now (audited)."""
    slug = request.POST.get("team", "")
    team = get_object_or_404(Team, slug=slug) if slug else None
    try:
        report = services.request_report(request.user, team, email=bool(request.POST.get("email")))
    except OperationalError as error:
        messages.error(request, f"The task queue cannot be reached: {error}")
        return redirect("dashboard:reports")
    report.refresh_from_db(fields=["status"])
    if report.status == Report.Status.READY:
        messages.success(request, f"Made the {report.scope_name} report: it is listed below.")
    else:
        messages.success(request, f"Asked for the {report.scope_name} report; it is made shortly.")
    return redirect("dashboard:reports")


@require_safe
def report_file(request, pk, extension):
    """One of a ready report's files: the web page opens in the browser, the others download."""
    if extension not in report_files.CONTENT_TYPES:
        raise Http404("No such format.")
    report = get_object_or_404(scoping.visible_reports(request.user), pk=pk)
    return report_files.file_response(report, extension)
