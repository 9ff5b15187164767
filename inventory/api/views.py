"""The REST API's views: one viewset per resource, each a short declaration of its queryset,
filters and serializer. Writes go through ``inventory.services`` so people's changes are audited
the same way whether they come from the API, the dashboard or the admin.
"""

from datetime import timedelta
from functools import cached_property

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from kombu.exceptions import OperationalError
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from collectors.tasks import collect_source
from inventory import scoping, services
from inventory.models import (
    AccessEvent,
    ApiToken,
    Asset,
    AssetChange,
    AuditLog,
    CollectionRun,
    Finding,
    FindingStatus,
    OwnershipRule,
    RunTrigger,
    ScopeRun,
    Source,
    Team,
)
from inventory.reports import files as report_files

from . import filtersets, serializers
from .permissions import RECONCILER

# How much of an asset's history and access trail its detail carries (the whole access trail
# pages through /events/?asset=ID).
DETAIL_CHANGES = 100
DETAIL_EVENTS = 100
# Findings reopen and resolve as an asset flaps; the open ones always come first.
DETAIL_FINDINGS = 200


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


class ListFilteringMixin:
    """Filters and ordering narrow lists; a detail URL names one object whatever the query
    string says (so a gone asset is still found by id although lists hide it by default)."""

    filter_backends = [DjangoFilterBackend, filtersets.StableOrderingFilter]

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


class VisibilityMixin:
    """What the requesting user may see (``inventory.scoping``), read once per request."""

    @cached_property
    def visible(self) -> scoping.Visibility:
        return scoping.visibility_of(self.request.user)


class ReadOnlyViewSet(VisibilityMixin, ListFilteringMixin, viewsets.ReadOnlyModelViewSet):
    pass


class AuditedModelViewSet(VisibilityMixin, ListFilteringMixin, viewsets.ModelViewSet):
    """Create, change and delete through the audited services, like every other way in."""

    save_service = staticmethod(services.save_config)
    delete_service = staticmethod(services.delete_config)

    def perform_create(self, serializer):
        fields, related = self._split(serializer)
        serializer.instance = self._save(serializer.Meta.model(**fields), related)

    def perform_update(self, serializer):
        fields, related = self._split(serializer)
        for name, value in fields.items():
            setattr(serializer.instance, name, value)
        self._save(serializer.instance, related)

    def perform_destroy(self, instance):
        self.delete_service(instance, self.request.user)

    @staticmethod
    def _split(serializer):
        """(plain fields, many-to-many fields) of what the request wrote."""
        many = {field.name for field in serializer.Meta.model._meta.many_to_many}
        data = serializer.validated_data
        fields = {name: value for name, value in data.items() if name not in many}
        return fields, {name: value for name, value in data.items() if name in many}

    def _save(self, obj, related):
        extra = {"related": related} if related else {}
        try:
            self.save_service(obj, self.request.user, **extra)
        except DjangoValidationError as exc:
            serializers.raise_django_errors(exc)
        return obj


# --- assets -------------------------------------------------------------------------------------


def _open_findings_first():
    return Case(
        When(status=FindingStatus.OPEN, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )


def _live_children_count(visible):
    children = (
        visible.assets(Asset.objects.filter(parent=OuterRef("pk"), gone_at__isnull=True))
        .order_by()
        .values("parent")
        .annotate(count=Count("id"))
        .values("count")
    )
    return Coalesce(Subquery(children), 0)


def apply_decision(assets, data, actor) -> int:
    """Apply a validated ``DecisionSerializer`` payload to ``assets``; how many were decided."""
    action_name = data["action"]
    if action_name == serializers.DecisionSerializer.ASSIGN:
        return services.assign_owner(assets, data["team"], actor, reason=data["reason"])
    if action_name == serializers.DecisionSerializer.ACCEPT:
        return services.accept_risk(
            assets, actor, data["reason"], expires_at=data["expires_at"], team=data.get("team")
        )
    return services.clear_decision(assets, actor, reason=data["reason"])


@extend_schema_view(
    list=extend_schema(summary="List assets (live ones unless state says otherwise)"),
    retrieve=extend_schema(summary="One asset with its history, findings and access trail"),
)
class AssetViewSet(ReadOnlyViewSet):
    """Everything collected. Read-only except for reconcilers' ownership decisions."""

    write_role = RECONCILER
    filterset_class = filtersets.AssetFilterSet
    ordering_fields = ["name", "first_seen", "last_changed", "max_severity", "provider", "kind"]

    def get_queryset(self):
        assets = self.visible.assets(Asset.objects.select_related("owner", "scope"))
        if not self.visible.everything:  # whether they may see the parent (serializer)
            assets = assets.annotate(parent_owner_id=F("parent__owner_id"))
        if self.action != "retrieve":
            return assets
        return (
            assets.select_related("parent", "decision__team", "decision__decided_by")
            .annotate(children_count=_live_children_count(self.visible))
            .prefetch_related(
                Prefetch(
                    "changes",
                    AssetChange.objects.select_related("actor")[:DETAIL_CHANGES],
                    to_attr="latest_changes",
                ),
                Prefetch(
                    "findings",
                    Finding.objects.order_by(
                        _open_findings_first(), "-severity", "-opened_at", "-id"
                    )[:DETAIL_FINDINGS],
                    to_attr="ordered_findings",
                ),
                Prefetch(
                    "events", AccessEvent.objects.all()[:DETAIL_EVENTS], to_attr="latest_events"
                ),
            )
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "visible": self.visible}

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.AssetDetailSerializer
        if self.action == "decision":
            return serializers.DecisionSerializer
        if self.action == "decisions":
            return serializers.BulkDecisionSerializer
        return serializers.AssetSerializer

    @extend_schema(
        summary="Decide who owns an asset, or accept it as a known risk",
        request=serializers.DecisionSerializer,
        responses={200: serializers.AssetSerializer},
    )
    @action(detail=True, methods=["post"])
    def decision(self, request, pk=None):
        asset = self.get_object()
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        apply_decision([asset], payload.validated_data, request.user)
        asset = self.get_queryset().get(pk=asset.pk)
        return Response(
            serializers.AssetSerializer(asset, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary="Apply one decision to many assets",
        request=serializers.BulkDecisionSerializer,
        responses={200: serializers.DecisionResultSerializer},
    )
    @action(detail=False, methods=["post"])
    def decisions(self, request):
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        decided = apply_decision(data["assets"], data, request.user)
        return Response({"action": data["action"], "decided": decided})


# --- ownership ----------------------------------------------------------------------------------


class TeamViewSet(AuditedModelViewSet):
    """Teams that own assets (a scoped reconciler's own). A team still accountable for
    something cannot be deleted."""

    queryset = Team.objects.prefetch_related("members")
    serializer_class = serializers.TeamSerializer
    lookup_field = "slug"
    ordering_fields = ["name", "slug", "created_at"]

    def get_queryset(self):
        return self.visible.teams(super().get_queryset())

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="The team is in use.")})
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, team):
        # Deleting would silently drop its rules and leave its assets "tracked" by nobody.
        owned = Asset.objects.filter(owner=team, gone_at__isnull=True).count()
        rules = team.rules.count()
        if owned or rules:
            raise Conflict(
                f"Team {team.slug} still owns {owned} live assets and has {rules} ownership "
                "rules: reassign them first."
            )
        super().perform_destroy(team)


class OwnershipRuleViewSet(AuditedModelViewSet):
    """Ownership rules (a scoped reconciler's teams'). Every save or delete re-derives the
    owners of all live assets."""

    queryset = OwnershipRule.objects.select_related("team")
    serializer_class = serializers.OwnershipRuleSerializer
    ordering_fields = ["position", "name", "created_at"]
    save_service = staticmethod(services.save_rule)
    delete_service = staticmethod(services.delete_rule)

    def get_queryset(self):
        rules = super().get_queryset()
        return rules if self.visible.everything else rules.filter(team__in=self.visible.teams())


# --- collection ---------------------------------------------------------------------------------


class SourceViewSet(AuditedModelViewSet):
    """Where Daylight collects from. Changes are validated like the model and audited."""

    queryset = Source.objects.all()
    serializer_class = serializers.SourceSerializer
    ordering_fields = ["name", "provider", "created_at"]

    @extend_schema(
        summary="Collect this source now",
        request=None,
        responses={
            202: serializers.RunQueuedSerializer,
            409: OpenApiResponse(description="The source is disabled."),
            503: OpenApiResponse(description="The task queue cannot be reached."),
        },
    )
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        source = self.get_object()
        if not source.enabled:
            raise Conflict(f"Source {source.name} is disabled: enable it to collect.")
        try:
            collect_source.delay(source.pk, RunTrigger.MANUAL.value)
        except OperationalError as exc:
            raise ServiceUnavailable(f"The task queue cannot be reached: {exc}") from exc
        return Response({"source": source.pk, "queued": True}, status=status.HTTP_202_ACCEPTED)


class CollectionRunViewSet(ReadOnlyViewSet):
    """Collection runs, newest first, each with the outcome of every scope it read."""

    queryset = CollectionRun.objects.select_related("source").prefetch_related(
        Prefetch("scope_runs", ScopeRun.objects.select_related("scope"))
    )
    serializer_class = serializers.CollectionRunSerializer
    filterset_class = filtersets.CollectionRunFilterSet
    ordering_fields = ["started_at", "finished_at"]


class AccessEventViewSet(ReadOnlyViewSet):
    """Who did what to which asset, as the providers' audit trails tell it."""

    queryset = AccessEvent.objects.all()
    serializer_class = serializers.AccessEventSerializer
    filterset_class = filtersets.AccessEventFilterSet
    ordering_fields = ["occurred_at", "actor", "action"]

    def get_queryset(self):
        return self.visible.about(super().get_queryset())


class FindingViewSet(ReadOnlyViewSet):
    """Rules' verdicts on assets, most severe first."""

    queryset = Finding.objects.select_related("asset")
    serializer_class = serializers.FindingSerializer
    filterset_class = filtersets.FindingFilterSet
    ordering_fields = ["severity", "opened_at", "resolved_at"]

    def get_queryset(self):
        return self.visible.about(super().get_queryset())


class AuditLogViewSet(ReadOnlyViewSet):
    """Every human decision and configuration change, newest first. Append-only. A scoped
    reconciler reads the decisions about the assets they can see."""

    queryset = AuditLog.objects.all()
    serializer_class = serializers.AuditLogSerializer
    filterset_class = filtersets.AuditLogFilterSet
    ordering_fields = ["at"]

    def get_queryset(self):
        return self.visible.audit(super().get_queryset())


# --- posture reports ----------------------------------------------------------------------------


class FileContentNegotiation(DefaultContentNegotiation):
    """A download answers with its file whatever the client accepts; only an error is rendered,
    as JSON (a client asking for ``application/pdf`` must not get 406 instead of the file)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema_view(
    list=extend_schema(summary="List posture reports, newest first, with their download links"),
    retrieve=extend_schema(summary="One posture report and its download links"),
)
class ReportViewSet(ReadOnlyViewSet):
    """Posture reports of the organisation and of each team, as on the dashboard's Reports page:
    a reconciler scoped to teams sees the organisation's and their own teams'."""

    serializer_class = serializers.ReportSerializer
    filterset_class = filtersets.ReportFilterSet
    ordering_fields = ["created_at", "period_end"]

    def get_queryset(self):
        return scoping.visible_reports(self.request.user)

    @extend_schema(
        summary="Download a ready report as a web page, PDF or CSV",
        description="The file itself (the web page inline, the others as attachments); 404 "
        "while the report is being made or if making it failed.",
        parameters=[
            OpenApiParameter(
                "extension",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(report_files.CONTENT_TYPES),
            )
        ],
        responses={
            (200, content_type.split(";")[0]): OpenApiTypes.BINARY
            for content_type in report_files.CONTENT_TYPES.values()
        }
        | {404: OpenApiResponse(description="No such report, or it has no files (yet).")},
    )
    @action(
        detail=True,
        url_path=r"download/(?P<extension>html|pdf|csv)",
        url_name="download",
        content_negotiation_class=FileContentNegotiation,
    )
    def download(self, request, pk=None, extension=None):
        return report_files.file_response(self.get_object(), extension)


class IssueTokenView(APIView):
    """``POST /api/v1/auth/token/``: a script trades its user's password for a new token, shown
    once. Read-only unless it asks for ``"scope": "write"``; never more than the user's role.
    Failed passwords count towards the sign-in limits."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=serializers.IssueTokenSerializer, responses={201: OpenApiResponse()})
    def post(self, request):
        form = serializers.IssueTokenSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        days = data.get("expires_days")
        token = ApiToken(
            user=data["user"],
            name=data["name"],
            scope=data["scope"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        secret = services.issue_api_token(token, data["user"])
        return Response(
            {
                "token": secret,
                "id": token.pk,
                "name": token.name,
                "scope": token.scope,
                "expires_at": token.expires_at,
            },
            status=status.HTTP_201_CREATED,
        )
