from django.db import models

from .choices import FindingCategory, FindingStatus, Severity


class Finding(models.Model):
    """A rule's verdict on an asset: an exposure or hygiene problem, open until it goes away."""

    asset = models.ForeignKey("inventory.Asset", on_delete=models.CASCADE, related_name="findings")
    rule = models.CharField(max_length=64, help_text="Slug of the rule in inventory.rules.")
    category = models.CharField(max_length=20, choices=FindingCategory.choices)
    severity = models.SmallIntegerField(choices=Severity.choices)
    status = models.CharField(
        max_length=20, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    detail = models.CharField(max_length=1000, blank=True, help_text="What the rule saw.")
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-severity", "-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "rule"],
                condition=models.Q(status="open"),
                name="finding_one_open_per_rule",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity"], name="finding_status_severity"),
            models.Index(fields=["rule", "status"], name="finding_rule_status"),
            # The SIEM export reads resolutions in (resolved_at, id) order.
            models.Index(
                fields=["resolved_at", "id"],
                name="finding_resolved",
                condition=models.Q(resolved_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.rule} on {self.asset_id}"

    @property
    def definition(self):
        from inventory.rules import RULES_BY_SLUG

        return RULES_BY_SLUG.get(self.rule)
