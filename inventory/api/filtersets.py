"""Query-string filters for the API's lists, and the ordering every list shares."""

import django_filters as filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q
from rest_framework.filters import OrderingFilter

from inventory.labels import filter_label
from inventory.models import (
    AccessEvent,
    Asset,
    AssetKind,
    AuditLog,
    CollectionRun,
    Finding,
    FindingCategory,
    FindingStatus,
    Provider,
    Report,
    RunStatus,
    Severity,
    TrackingStatus,
)
from inventory.models.teams import UNOWNED_SLUG
from inventory.scoping import visibility_of
from inventory.search import name_or_key_contains
from inventory.selectors import running_on


class IntegerFilter(filters.NumberFilter):
    """A number filter that accepts whole numbers only (and says so in the schema)."""

    field_class = forms.IntegerField


class StableOrderingFilter(OrderingFilter):
    """Ordering by the ``ordering`` parameter, made stable and the same on every database.

    Rows that tie are ordered by id, so offset pages never repeat or skip a row; NULLs sort as
    the lowest value (an asset without open findings is below one with an info finding), where
    PostgreSQL and SQLite would otherwise disagree.
    """

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        terms = [self._term(field) for field in ordering]
        if not any(field.lstrip("-") in {"id", "pk"} for field in ordering):
            terms.append(F("id").asc())
        return queryset.order_by(*terms)

    @staticmethod
    def _term(field):
        if field.startswith("-"):
            return F(field[1:]).desc(nulls_last=True)
        return F(field).asc(nulls_first=True)


class AssetFilterSet(filters.FilterSet):
    """Narrows the asset list. Without ``state`` only live assets (not gone) are listed."""

    LIVE, GONE, ALL = "live", "gone", "all"

    provider = filters.ChoiceFilter(choices=Provider.choices)
    kind = filters.ChoiceFilter(choices=AssetKind.choices)
    account = filters.CharFilter()
    region = filters.CharFilter()
    namespace = filters.CharFilter()
    owner = filters.CharFilter(
        method="filter_owner", label="Owning team's slug, or 'none' for unowned assets."
    )
    tracking = filters.ChoiceFilter(choices=TrackingStatus.choices)
    exposed = filters.BooleanFilter()
    eol = filters.BooleanFilter()
    has_open_finding = filters.BooleanFilter(method="filter_has_open_finding")
    min_severity = IntegerFilter(
        field_name="max_severity",
        lookup_expr="gte",
        label="Highest open finding's severity at least this (0 info … 4 critical).",
    )
    state = filters.ChoiceFilter(
        choices=[(LIVE, "Live"), (GONE, "Gone"), (ALL, "All")],
        method="filter_state",
        empty_label=None,
        label="live (default): still present; gone: no longer seen; all: both.",
    )
    first_seen_after = filters.IsoDateTimeFilter(
        field_name="first_seen", lookup_expr="gte", label="First seen at or after."
    )
    first_seen_before = filters.IsoDateTimeFilter(
        field_name="first_seen", lookup_expr="lt", label="First seen before."
    )
    label = filters.CharFilter(
        method="filter_label", label="Carries this tag or label: 'key=value' or just 'key'."
    )
    runs_on = filters.CharFilter(
        method="filter_runs_on",
        max_length=512,
        label=(
            "Runs on the cluster or Docker host with this key, or else this name (every one so"
            " named, in any account): its children and theirs."
        ),
    )
    # The text search is applied last: it looks its matches up among the other filters'.
    q = filters.CharFilter(method="filter_text", label="Name or key contains (ignoring case).")

    class Meta:
        model = Asset
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("state"):
            data = data.copy()
            data["state"] = self.LIVE
        super().__init__(data, *args, **kwargs)

    def filter_owner(self, queryset, name, value):
        if value.lower() == UNOWNED_SLUG:
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner__slug=value)

    def filter_has_open_finding(self, queryset, name, value):
        open_finding = Finding.objects.filter(asset=OuterRef("pk"), status=FindingStatus.OPEN)
        return queryset.filter(Exists(open_finding) if value else ~Exists(open_finding))

    def filter_state(self, queryset, name, value):
        if value == self.LIVE:
            return queryset.filter(gone_at__isnull=True)
        if value == self.GONE:
            return queryset.filter(gone_at__isnull=False)
        return queryset

    def filter_label(self, queryset, name, value):
        return filter_label(queryset, value)

    def filter_runs_on(self, queryset, name, value):
        return queryset.filter(running_on(value, visibility_of(self.request.user)))

    def filter_text(self, queryset, name, value):
        return name_or_key_contains(queryset, value)


class FindingFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=FindingStatus.choices)
    severity = filters.TypedChoiceFilter(choices=Severity.choices, coerce=int)
    min_severity = IntegerFilter(field_name="severity", lookup_expr="gte")
    rule = filters.CharFilter()
    category = filters.ChoiceFilter(choices=FindingCategory.choices)
    asset = IntegerFilter(field_name="asset_id")
    provider = filters.ChoiceFilter(field_name="asset__provider", choices=Provider.choices)

    class Meta:
        model = Finding
        fields = []


class CollectionRunFilterSet(filters.FilterSet):
    source = IntegerFilter(field_name="source_id")
    status = filters.ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = CollectionRun
        fields = []


class ReportFilterSet(filters.FilterSet):
    scope = filters.ChoiceFilter(choices=Report.Scope.choices)
    team = filters.CharFilter(field_name="scope_slug")
    status = filters.ChoiceFilter(choices=Report.Status.choices)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Report
        fields = []


class AccessEventFilterSet(filters.FilterSet):
    provider = filters.ChoiceFilter(choices=Provider.choices)
    actor = filters.CharFilter()
    action = filters.CharFilter()
    asset = IntegerFilter(field_name="asset_id")
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    q = filters.CharFilter(
        method="filter_text", label="Actor, action or asset key contains (ignoring case)."
    )

    class Meta:
        model = AccessEvent
        fields = []

    def filter_text(self, queryset, name, value):
        return queryset.filter(
            Q(actor__icontains=value) | Q(action__icontains=value) | Q(asset_key__icontains=value)
        )


class AuditLogFilterSet(filters.FilterSet):
    action = filters.CharFilter()
    object_type = filters.CharFilter()
    object_id = filters.CharFilter()
    actor_name = filters.CharFilter()

    class Meta:
        model = AuditLog
        fields = []
