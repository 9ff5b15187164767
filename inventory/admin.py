from django.contrib import admin
from django.db import models
from django.template.response import TemplateResponse

from . import services
from .models import (
    AccessEvent,
    ApiToken,
    Asset,
    AuditLog,
    CollectionRun,
    Delivery,
    ExportCursor,
    ExportDestination,
    ExternalIdentity,
    Finding,
    NotificationChannel,
    NotificationRule,
    OwnershipRule,
    Scope,
    ScopeRun,
    Source,
    Team,
)


class AuditedAdmin(admin.ModelAdmin):
    """Configuration edited here goes through the same audited services as the UI and API."""

    save_service = staticmethod(services.save_config)
    delete_service = staticmethod(services.delete_config)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        self.save_service(obj, request.user)

    def delete_model(self, request, obj):
        self.delete_service(obj, request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Source)
class SourceAdmin(AuditedAdmin):
    list_display = ("name", "provider", "schedule", "enabled")
    list_filter = ("provider", "enabled")
    search_fields = ("name",)


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ("name", "slug", "contact")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members",)

    # The admin saves many-to-many fields only after the object, which would leave a change
    # of members out of the audit row: the team is saved with its members in save_related.
    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        members = form.cleaned_data["members"]
        services.save_config(form.instance, request.user, related={"members": members})


@admin.register(OwnershipRule)
class OwnershipRuleAdmin(AuditedAdmin):
    save_service = staticmethod(services.save_rule)
    delete_service = staticmethod(services.delete_rule)
    list_display = (
        "position",
        "name",
        "team",
        "tag_key",
        "tag_value",
        "account",
        "namespace",
        "name_pattern",
        "enabled",
    )
    list_editable = ("enabled",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Collected data and history are written by ingest and services only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Asset)
class AssetAdmin(ReadOnlyAdmin):
    list_display = ("name", "provider", "kind", "account", "region", "owner", "tracking", "gone_at")
    list_filter = ("provider", "kind", "tracking", "exposed", "eol")
    search_fields = ("name", "key")
    list_select_related = ("owner",)
    show_full_result_count = False


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ("rule", "asset", "severity", "status", "opened_at")
    list_filter = ("status", "category", "severity", "rule")
    raw_id_fields = ("asset",)


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "provider", "actor", "action", "asset_key")
    search_fields = ("actor", "action", "asset_key")


class ScopeRunInline(admin.TabularInline):
    model = ScopeRun
    extra = 0
    can_delete = False
    readonly_fields = (
        "scope",
        "status",
        "complete",
        "seen",
        "new",
        "changed",
        "gone",
        "events",
        "error",
    )


@admin.register(CollectionRun)
class CollectionRunAdmin(ReadOnlyAdmin):
    list_display = ("source", "trigger", "status", "started_at", "seen", "new", "changed", "gone")
    list_filter = ("status", "source")
    inlines = [ScopeRunInline]


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ReadOnlyAdmin):
    """Who signs in through single sign-on, as whom: written at their first sign-in."""

    list_display = ("user", "subject", "issuer", "created_at", "last_login_at")
    search_fields = ("user__username", "subject")
    list_select_related = ("user",)


@admin.register(Scope)
class ScopeAdmin(ReadOnlyAdmin):
    list_display = ("source", "key", "last_status", "last_success_at")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_name", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")


@admin.register(NotificationChannel)
class NotificationChannelAdmin(AuditedAdmin):
    list_display = ("name", "kind", "url_env", "secret_env", "enabled")
    list_filter = ("kind", "enabled")


@admin.register(NotificationRule)
class NotificationRuleAdmin(AuditedAdmin):
    list_display = ("name", "event", "team", "channel", "failing_runs", "enabled")
    list_filter = ("event", "enabled")
    list_editable = ("enabled",)
    list_select_related = ("team", "channel")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "title", "rule", "channel", "status", "attempts", "last_error")
    list_filter = ("status", "event")
    list_select_related = ("rule", "channel")


class ExportCursorInline(admin.TabularInline):
    model = ExportCursor
    extra = 0
    can_delete = False
    fields = ("stream", "last_id", "last_at", "exported", "last_success_at", "last_error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ExportDestination)
class ExportDestinationAdmin(AuditedAdmin):
    list_display = ("name", "kind", "host", "port", "tls", "url", "path", "enabled")
    list_filter = ("kind", "enabled")
    inlines = [ExportCursorInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Issue (the secret is shown once, in the confirmation) and revoke; nothing else changes."""

    list_display = (
        "name",
        "user",
        "scope",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "user__username", "prefix")
    fields = ("user", "name", "scope", "expires_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else (*self.fields, *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else (*self.fields, *self.readonly_fields)

    def has_change_permission(self, request, obj=None):
        return False  # a token is issued or revoked (the action), never edited

    def has_delete_permission(self, request, obj=None):
        return False  # revoked tokens stay, so the audit log's references stay meaningful

    def save_model(self, request, obj, form, change):
        obj.issued_secret = services.issue_api_token(obj, request.user)

    def response_add(self, request, obj, post_url_continue=None):
        """The secret, once, on the page itself: never in a message, cookie or session."""
        context = {
            **self.admin_site.each_context(request),
            "title": "API token issued",
            "token": obj,
            "secret": obj.issued_secret,
            "opts": self.opts,
        }
        response = TemplateResponse(request, "admin/inventory/apitoken/issued.html", context)
        return response

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = sum(services.revoke_api_token(token, request.user) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token{'s' if revoked != 1 else ''}.")
