"""How Daylight's objects look in the REST API, and what the API accepts for the few writes.

Writes that are human decisions or configuration changes are applied by ``inventory.services``
(which audits them); the serializers here only validate and shape.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from inventory import scoping
from inventory.credentials import CREDENTIALS_ADVICE, credential_paths
from inventory.models import (
    AccessEvent,
    Asset,
    AssetChange,
    AssetKind,
    AuditLog,
    CollectionRun,
    Finding,
    FindingStatus,
    OwnershipRule,
    Provider,
    Report,
    RunStatus,
    ScopeRun,
    Source,
    Team,
    TokenScope,
    TrackingDecision,
)
from inventory.models.teams import validate_team_slug
from inventory.reports.files import CONTENT_TYPES

# Bulk decisions apply in one transaction with one audit row per asset: keep them reviewable.
MAX_BULK_ASSETS = 1000


def raise_django_errors(exc: DjangoValidationError):
    """Re-raise a model's ``full_clean`` errors as a DRF 400 keyed by field."""
    if hasattr(exc, "error_dict"):
        detail = {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
        raise serializers.ValidationError(detail) from exc
    raise serializers.ValidationError({"non_field_errors": exc.messages}) from exc


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose OpenAPI enum is named after what its choices mean ("RunStatus",
    "FindingStatus"), so fields that share a name over different choice sets never collide."""

    def __init__(self, choices_class, schema_name: str, **kwargs):
        self.schema_name = schema_name
        super().__init__(choices=choices_class.choices, **kwargs)


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    """Publishes a ``NamedChoiceField``'s choices once, as the component ``<schema_name>Enum``."""

    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = build_choice_field(field)
        schema.pop("x-spec-enum-id", None)
        component = ResolvedComponent(
            name=f"{field.schema_name}Enum",
            type=ResolvedComponent.SCHEMA,
            schema=schema,
            object=field.schema_name,
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class TeamRefSerializer(serializers.ModelSerializer):
    """A team as it appears on other objects: enough to name and link it."""

    class Meta:
        model = Team
        fields = ["slug", "name"]


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(
        many=True,
        slug_field="username",
        queryset=get_user_model().objects.all(),
        required=False,
        help_text="Usernames of the people who answer for the team's assets (who may claim "
        "assets for it). Writing the list replaces it.",
    )

    class Meta:
        model = Team
        fields = ["id", "slug", "name", "contact", "description", "members", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_slug(self, slug):
        try:
            validate_team_slug(slug)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return slug


class AssetRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Asset
        fields = ["id", "name"]


class AssetSerializer(serializers.ModelSerializer):
    """An asset in a list: what it is, where it runs, who owns it and how exposed it is."""

    kind = NamedChoiceField(AssetKind, "AssetKind", read_only=True)
    owner = TeamRefSerializer(read_only=True)
    last_seen = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Asset
        fields = [
            "id",
            "key",
            "name",
            "provider",
            "kind",
            "account",
            "region",
            "namespace",
            "parent_id",
            "labels",
            "runtime",
            "image",
            "image_digest",
            "platform_version",
            "state",
            "creator",
            "owner",
            "owner_basis",
            "tracking",
            "exposed",
            "eol",
            "max_severity",
            "first_seen",
            "last_changed",
            "last_seen",
            "gone_at",
        ]
        read_only_fields = fields

    def to_representation(self, asset):
        """Another team's parent (a cluster, say) is neither named nor pointed to for whom
        cannot see it (the view annotates ``parent_owner_id`` for them)."""
        data = super().to_representation(asset)
        visible = self.context.get("visible", scoping.EVERYTHING)
        if visible.everything or asset.parent_id is None:
            return data
        if not visible.sees_owner(asset.parent_owner_id):
            data["parent_id"] = None
            if "parent" in data:
                data.update(parent=None, parent_key="")
        return data


class AssetChangeSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AssetChange
        fields = ["id", "at", "field", "old", "new", "run", "actor"]
        read_only_fields = fields


class FindingSerializer(serializers.ModelSerializer):
    """A rule's verdict on an asset, with the rule's title and advice."""

    asset = AssetRefSerializer(read_only=True)
    status = NamedChoiceField(FindingStatus, "FindingStatus", read_only=True)
    title = serializers.SerializerMethodField()
    remediation = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = [
            "id",
            "asset",
            "rule",
            "title",
            "remediation",
            "category",
            "severity",
            "status",
            "detail",
            "opened_at",
            "resolved_at",
        ]
        read_only_fields = fields

    def get_title(self, finding) -> str:
        return finding.definition.title if finding.definition else finding.rule

    def get_remediation(self, finding) -> str:
        return finding.definition.remediation if finding.definition else ""


class AssetFindingSerializer(FindingSerializer):
    """A finding listed on its own asset's page, where the asset goes without saying."""

    class Meta(FindingSerializer.Meta):
        fields = [f for f in FindingSerializer.Meta.fields if f != "asset"]
        read_only_fields = fields


class AccessEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccessEvent
        fields = [
            "id",
            "provider",
            "event_id",
            "source",
            "asset",
            "asset_key",
            "occurred_at",
            "actor",
            "action",
            "source_ip",
            "user_agent",
            "outcome",
            "detail",
        ]
        read_only_fields = fields


class DecisionStateSerializer(serializers.ModelSerializer):
    """The human decision currently in force on an asset."""

    kind = NamedChoiceField(TrackingDecision.Kind, "DecisionKind", read_only=True)
    team = TeamRefSerializer(read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = TrackingDecision
        fields = ["kind", "team", "reason", "expires_at", "decided_by", "decided_at"]
        read_only_fields = fields


class AssetDetailSerializer(AssetSerializer):
    """One asset with everything known about it: configuration, history, findings, access.

    The view prefetches the related lists (latest changes and events, findings open first).
    """

    parent = AssetRefSerializer(read_only=True, allow_null=True)
    children_count = serializers.IntegerField(read_only=True)
    decision = DecisionStateSerializer(read_only=True, allow_null=True)
    changes = AssetChangeSerializer(many=True, read_only=True, source="latest_changes")
    findings = AssetFindingSerializer(many=True, read_only=True, source="ordered_findings")
    events = AccessEventSerializer(many=True, read_only=True, source="latest_events")

    class Meta(AssetSerializer.Meta):
        fields = [
            *AssetSerializer.Meta.fields,
            "source",
            "parent_key",
            "parent",
            "children_count",
            "endpoints",
            "security",
            "attributes",
            "observed",
            "provider_created_at",
            "provider_modified_at",
            "decision",
            "changes",
            "findings",
            "events",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.Serializer):
    """A reconciler's word on assets: assign them to a team, accept them as a known risk, or
    clear the decision so the ownership rules decide again."""

    ASSIGN, ACCEPT, CLEAR = "assign", "accept", "clear"

    action = serializers.ChoiceField(choices=[ASSIGN, ACCEPT, CLEAR])
    team = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": "There is no team with slug {value!r}."},
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        action, team = attrs["action"], attrs.get("team")
        errors = {}
        if action == self.ASSIGN and team is None:
            errors["team"] = "Assigning needs the slug of the team that owns the assets."
        if action == self.ACCEPT and not attrs["reason"].strip():
            errors["reason"] = "Accepting a risk needs a reason."
        if action == self.CLEAR and team is not None:
            errors["team"] = "Clearing a decision takes no team: the ownership rules decide."
        if attrs["expires_at"] is not None:
            if action != self.ACCEPT:
                errors["expires_at"] = "Only an accepted risk expires."
            elif attrs["expires_at"] <= timezone.now():
                errors["expires_at"] = "The expiry must be in the future."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class BulkDecisionSerializer(DecisionSerializer):
    """The same decision applied to many assets at once."""

    assets = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=MAX_BULK_ASSETS,
        help_text=f"Asset ids, at most {MAX_BULK_ASSETS}.",
    )

    def validate_assets(self, ids):
        ids = list(dict.fromkeys(ids))
        # Assets outside a scoped reconciler's teams are as unknown here as on their pages.
        found = scoping.visible_assets(self.context["request"].user).in_bulk(ids)
        if missing := [pk for pk in ids if pk not in found]:
            raise serializers.ValidationError(
                f"No asset with id {', '.join(map(str, missing[:20]))}."
            )
        return [found[pk] for pk in ids]


class DecisionResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    decided = serializers.IntegerField(help_text="How many assets the decision was applied to.")


class OwnershipRuleSerializer(serializers.ModelSerializer):
    """An ownership rule. Saving one re-derives every live asset's owner, so it goes through
    ``inventory.services.save_rule``, which also audits it."""

    team = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        error_messages={"does_not_exist": "There is no team with slug {value!r}."},
    )
    provider = serializers.ChoiceField(
        choices=Provider.choices, allow_blank=True, required=False, default=""
    )

    class Meta:
        model = OwnershipRule
        fields = [
            "id",
            "position",
            "name",
            "team",
            "provider",
            "tag_key",
            "tag_value",
            "account",
            "namespace",
            "name_pattern",
            "enabled",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class SourceSerializer(serializers.ModelSerializer):
    """A source to collect from. Validated like the model (provider, cron schedule, the
    collector's config keys) and never allowed to hold credentials."""

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "provider",
            "config",
            "endpoint_url",
            "schedule",
            "enabled",
            "description",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_config(self, config):
        if not isinstance(config, dict):
            raise serializers.ValidationError("config must be a JSON object.")
        if found := sorted(credential_paths(config)):
            looks = "looks like a credential" if len(found) == 1 else "look like credentials"
            raise serializers.ValidationError(f"{', '.join(found)} {looks}: {CREDENTIALS_ADVICE}.")
        return config

    def validate(self, attrs):
        # A partial update is judged as the source it would become.
        current = self.instance.snapshot() if self.instance else {}
        candidate = Source(pk=getattr(self.instance, "pk", None), **{**current, **attrs})
        try:
            # Uniqueness is checked by the serializer's own validators.
            candidate.full_clean(validate_unique=False)
        except DjangoValidationError as exc:
            raise_django_errors(exc)
        return attrs


class ScopeRunSerializer(serializers.ModelSerializer):
    scope = serializers.CharField(source="scope.key", read_only=True)
    status = NamedChoiceField(RunStatus, "RunStatus", read_only=True)

    class Meta:
        model = ScopeRun
        fields = [
            "id",
            "scope",
            "status",
            "complete",
            "started_at",
            "finished_at",
            "seen",
            "new",
            "changed",
            "gone",
            "events",
            "error",
        ]
        read_only_fields = fields


class CollectionRunSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    status = NamedChoiceField(RunStatus, "RunStatus", read_only=True)
    duration_seconds = serializers.SerializerMethodField()
    scope_runs = ScopeRunSerializer(many=True, read_only=True)

    class Meta:
        model = CollectionRun
        fields = [
            "id",
            "source",
            "source_name",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "duration_seconds",
            "seen",
            "new",
            "changed",
            "gone",
            "events",
            "error",
            "scope_runs",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_duration_seconds(self, run) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None


class RunQueuedSerializer(serializers.Serializer):
    source = serializers.IntegerField()
    queued = serializers.BooleanField()


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "at",
            "actor",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "note",
        ]
        read_only_fields = fields


class ReportFilesSerializer(serializers.Serializer):
    """Where each of a ready report's files downloads from (null until it is ready)."""

    html = serializers.URLField(allow_null=True)
    pdf = serializers.URLField(allow_null=True)
    csv = serializers.URLField(allow_null=True)


class ReportSerializer(serializers.ModelSerializer):
    scope = NamedChoiceField(Report.Scope, "ReportScope", read_only=True)
    team = serializers.SerializerMethodField(
        help_text="The team's slug; null for the organisation."
    )
    status = NamedChoiceField(Report.Status, "ReportStatus", read_only=True)
    trigger = NamedChoiceField(Report.Trigger, "ReportTrigger", read_only=True)
    files = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "scope",
            "team",
            "scope_name",
            "period_start",
            "period_end",
            "created_at",
            "finished_at",
            "status",
            "trigger",
            "files",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_team(self, report) -> str | None:
        return report.scope_slug if report.scope == Report.Scope.TEAM else None

    @extend_schema_field(ReportFilesSerializer)
    def get_files(self, report) -> dict:
        ready = report.status == Report.Status.READY
        request = self.context["request"]
        return {
            extension: request.build_absolute_uri(
                reverse("report-download", args=[report.pk, extension])
            )
            if ready and getattr(report, extension)
            else None
            for extension in CONTENT_TYPES
        }


class IssueTokenSerializer(AuthTokenSerializer):
    """A user name and password in; a new token of this scope out."""

    name = serializers.CharField(max_length=100, default="API token")
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)
    expires_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
