from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Coalesce, Concat, Upper
from django.urls import reverse

from .choices import AssetKind, OwnerBasis, Provider, TrackingStatus
from .indexes import PostgresGinIndex, PostgresIndex

# The worst open finding, -1 for none: how the explorer and the queue sort by severity.
SEVERITY_RANK = Coalesce("max_severity", models.Value(-1))
# What free-text search looks in (inventory.search), as one value for one trigram index.
NAME_AND_KEY = Concat("name", models.Value(" "), "key")


class Asset(models.Model):
    """Something running somewhere: a function, container, workload, cluster or Docker host.

    Its identity is the provider's stable ID (ARN, resource name, resource ID, UID), never its
    name. Collected fields are written only by the ingest path; owner and tracking status come
    from ownership rules or human decisions.
    """

    # Unique by a constraint, not unique=True: on PostgreSQL that would add a second,
    # pattern-matching index on the key that no query uses and every write pays for.
    key = models.CharField(max_length=512, help_text="Provider's stable identifier.")
    source = models.ForeignKey("inventory.Source", on_delete=models.CASCADE, related_name="assets")
    # Indexed by asset_scope_gone, which leads with the scope.
    scope = models.ForeignKey(
        "inventory.Scope", on_delete=models.CASCADE, related_name="assets", db_index=False
    )
    provider = models.CharField(max_length=20, choices=Provider.choices)
    kind = models.CharField(max_length=20, choices=AssetKind.choices)
    name = models.CharField(max_length=255)
    account = models.CharField(
        max_length=128, blank=True, help_text="Account, project or subscription."
    )
    region = models.CharField(max_length=64, blank=True)
    namespace = models.CharField(
        max_length=253, blank=True, help_text="Namespace or resource group."
    )
    parent_key = models.CharField(max_length=512, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    labels = models.JSONField(default=dict, blank=True)
    runtime = models.CharField(max_length=64, blank=True)
    image = models.CharField(max_length=512, blank=True)
    image_digest = models.CharField(max_length=100, blank=True)
    platform_version = models.CharField(max_length=64, blank=True)
    endpoints = models.JSONField(default=list, blank=True)
    security = models.JSONField(default=dict, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=32, blank=True)
    observed = models.JSONField(
        default=dict, blank=True, help_text="Volatile facts (counters, timings)."
    )
    creator = models.CharField(max_length=255, blank=True)
    provider_created_at = models.DateTimeField(null=True, blank=True)
    provider_modified_at = models.DateTimeField(null=True, blank=True)

    first_seen = models.DateTimeField()
    last_changed = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)
    durable_hash = models.CharField(max_length=32)
    volatile_hash = models.CharField(max_length=32)

    owner = models.ForeignKey(
        "inventory.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    owner_basis = models.CharField(max_length=20, choices=OwnerBasis.choices, blank=True)
    owner_rule = models.ForeignKey(
        "inventory.OwnershipRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision = models.ForeignKey(
        "inventory.TrackingDecision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    tracking = models.CharField(max_length=20, choices=TrackingStatus.choices)
    exposed = models.BooleanField(default=False, help_text="An open exposure finding exists.")
    eol = models.BooleanField(default=False, help_text="Runs an end-of-life runtime or version.")
    max_severity = models.SmallIntegerField(null=True, blank=True, help_text="Of open findings.")

    class Meta:
        ordering = ["provider", "kind", "name", "id"]
        indexes = [
            models.Index(fields=["provider", "kind"], name="asset_provider_kind"),
            models.Index(fields=["account"], name="asset_account"),
            models.Index(fields=["tracking", "gone_at"], name="asset_tracking"),
            models.Index(fields=["scope", "gone_at"], name="asset_scope_gone"),
            models.Index(fields=["first_seen"], name="asset_first_seen"),
            models.Index(fields=["name"], name="asset_name"),
            # Children whose parent is not stored yet: what every run's parent linking reads,
            # a handful of rows instead of a scan of the scope.
            models.Index(
                fields=["scope"],
                name="asset_orphans",
                condition=models.Q(parent__isnull=True) & ~models.Q(parent_key=""),
            ),
            # The dashboard at a million assets (bench/README.md), on PostgreSQL only: the
            # explorer sorted by worst finding, the reconciliation queue in its ranking order
            # (dashboard.views.QUEUE_ORDER), tag filters (JSON containment) and the free-text
            # search (icontains is UPPER(...) LIKE, which trigrams answer: one index over name
            # and key, where one per column made each write of an asset update two).
            PostgresIndex(
                SEVERITY_RANK,
                models.F("id"),
                name="asset_live_severity",
                condition=models.Q(gone_at__isnull=True),
            ),
            PostgresIndex(
                models.F("exposed").desc(),
                SEVERITY_RANK.desc(),
                models.F("eol").desc(),
                models.F("first_seen"),
                models.F("id"),
                name="asset_queue_rank",
                condition=models.Q(tracking=TrackingStatus.UNTRACKED, gone_at__isnull=True),
            ),
            PostgresGinIndex(fields=["labels"], name="asset_labels_gin"),
            PostgresGinIndex(
                OpClass(Upper(NAME_AND_KEY), name="gin_trgm_ops"), name="asset_text_trgm"
            ),
        ]
        constraints = [models.UniqueConstraint(fields=["key"], name="asset_key_unique")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("dashboard:asset", args=[self.pk])

    @property
    def last_seen(self):
        """Gone assets were last seen when they went; alive ones when their scope last succeeded."""
        return self.gone_at or self.scope.last_success_at


class AssetChange(models.Model):
    """One change to an asset, by a collection or by a person: an entry on its timeline."""

    class Field(models.TextChoices):
        LIFECYCLE = "lifecycle", "Lifecycle"
        OWNER = "owner", "Owner"
        TRACKING = "tracking", "Tracking status"
        EXPOSED = "exposed", "Internet exposure"
        KIND = "kind", "Kind"
        NAME = "name", "Name"
        ACCOUNT = "account", "Account"
        REGION = "region", "Region"
        NAMESPACE = "namespace", "Namespace"
        PARENT_KEY = "parent_key", "Parent"
        LABELS = "labels", "Tags / labels"
        RUNTIME = "runtime", "Runtime"
        IMAGE = "image", "Image"
        IMAGE_DIGEST = "image_digest", "Image digest"
        PLATFORM_VERSION = "platform_version", "Platform version"
        ENDPOINTS = "endpoints", "Endpoints"
        SECURITY = "security", "Security settings"
        ATTRIBUTES = "attributes", "Configuration"
        CREATOR = "creator", "Creator"
        PROVIDER_CREATED_AT = "provider_created_at", "Created at"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField()
    field = models.CharField(max_length=32, choices=Field.choices)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    run = models.ForeignKey(
        "inventory.ScopeRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="changes",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["asset", "-at"], name="change_asset_at"),
            models.Index(fields=["field", "-at"], name="change_field_at"),
        ]

    def __str__(self):
        return f"{self.asset_id} {self.field} @ {self.at:%Y-%m-%d %H:%M}"
