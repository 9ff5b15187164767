import fnmatch

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class OwnershipRule(models.Model):
    """Maps assets to a team by what they carry: a tag, an account, a namespace, a name pattern.

    Every condition that is filled in must hold; rules are tried in ``position`` order and the
    first that matches decides.
    """

    position = models.PositiveIntegerField(default=100)
    name = models.CharField(max_length=100)
    team = models.ForeignKey("inventory.Team", on_delete=models.CASCADE, related_name="rules")
    provider = models.CharField(max_length=20, blank=True)
    tag_key = models.CharField(max_length=256, blank=True, help_text="Tag or label key.")
    tag_value = models.CharField(max_length=256, blank=True, help_text="Blank: any value.")
    account = models.CharField(max_length=128, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    name_pattern = models.CharField(
        max_length=255, blank=True, help_text="Shell-style glob, e.g. pay-*."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    audit_type = "rule"
    CONDITIONS = ("provider", "tag_key", "account", "namespace", "name_pattern")

    def snapshot(self) -> dict:
        return {
            "name": self.name,
            "position": self.position,
            "team": self.team.name,
            "provider": self.provider,
            "tag_key": self.tag_key,
            "tag_value": self.tag_value,
            "account": self.account,
            "namespace": self.namespace,
            "name_pattern": self.name_pattern,
            "enabled": self.enabled,
        }

    def clean(self):
        if not any(getattr(self, name) for name in self.CONDITIONS):
            raise ValidationError(
                "A rule needs at least one condition: provider, tag_key, account, namespace "
                "or name_pattern."
            )
        if self.tag_value and not self.tag_key:
            raise ValidationError({"tag_value": "A tag value needs a tag_key."})

    def matches(self, asset) -> bool:
        """``asset`` is anything with provider, labels, account, namespace and name attributes."""
        if self.provider and asset.provider != self.provider:
            return False
        if self.account and asset.account != self.account:
            return False
        if self.namespace and asset.namespace != self.namespace:
            return False
        if self.tag_key:
            if self.tag_key not in asset.labels:
                return False
            if self.tag_value and asset.labels[self.tag_key] != self.tag_value:
                return False
        if self.name_pattern and not fnmatch.fnmatchcase(asset.name, self.name_pattern):
            return False
        return any(getattr(self, name) for name in self.CONDITIONS)


class TrackingDecision(models.Model):
    """A person's word on an asset: this team owns it, or it is a known, accepted risk."""

    class Kind(models.TextChoices):
        ASSIGN = "assign", "Assigned to a team"
        ACCEPT = "accept", "Accepted risk"

    asset = models.ForeignKey("inventory.Asset", on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    team = models.ForeignKey(
        "inventory.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    reason = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["active", "expires_at"], name="decision_active_expiry")]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.asset_id})"
