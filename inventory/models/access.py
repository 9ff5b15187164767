from django.db import models

from .choices import Provider


class AccessEvent(models.Model):
    """Who did what to an asset and when, as the provider's audit trail tells it."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    event_id = models.CharField(max_length=255, help_text="The provider's own event identifier.")
    source = models.ForeignKey("inventory.Source", on_delete=models.CASCADE, related_name="events")
    asset_key = models.CharField(max_length=512, blank=True)
    asset = models.ForeignKey(
        "inventory.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    occurred_at = models.DateTimeField()
    actor = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=255)
    source_ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    outcome = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="event_unique_provider_id"
            ),
        ]
        indexes = [
            models.Index(fields=["asset", "-occurred_at"], name="event_asset_at"),
            models.Index(fields=["actor", "-occurred_at"], name="event_actor_at"),
            models.Index(fields=["-occurred_at"], name="event_at"),
            models.Index(fields=["asset_key"], name="event_asset_key"),
        ]

    def __str__(self):
        return f"{self.actor} {self.action} @ {self.occurred_at:%Y-%m-%d %H:%M}"
