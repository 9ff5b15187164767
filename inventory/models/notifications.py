import re

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, validate_email
from django.db import models

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SPLIT_ADDRESSES = re.compile(r"[\s,;]+")


class NotificationChannel(models.Model):
    """Somewhere Daylight sends notifications: a receiver of signed JSON, a Slack or Microsoft
    Teams incoming webhook, or a list of e-mail addresses.

    Secrets are never stored: the HMAC key and any URL that is itself a credential (Slack's and
    Teams' webhook URLs are) are named here by the environment variable that holds them.
    """

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        SLACK = "slack", "Slack incoming webhook"
        TEAMS = "teams", "Microsoft Teams webhook"
        EMAIL = "email", "E-mail"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Webhook only: the receiver's URL. Slack and Teams URLs are secrets: "
        "give url_env instead.",
    )
    url_env = models.CharField(
        max_length=100, blank=True, help_text="Environment variable that holds the URL."
    )
    secret_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Webhook only: environment variable that holds the HMAC-SHA256 signing key.",
    )
    recipients = models.TextField(
        blank=True,
        help_text="E-mail only: addresses, comma- or line-separated. Blank: the rule's team "
        "contact.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    audit_type = "channel"
    DECLARED_FIELDS = ("name", "kind", "url", "url_env", "secret_env", "recipients", "enabled")

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in self.DECLARED_FIELDS}

    @property
    def is_email(self) -> bool:
        return self.kind == self.Kind.EMAIL

    def recipient_list(self) -> list[str]:
        return [a for a in SPLIT_ADDRESSES.split(self.recipients.strip()) if a]

    def clean(self):
        from inventory.credentials import CREDENTIALS_ADVICE, url_has_password

        errors = {}
        for field in ("url_env", "secret_env"):
            value = getattr(self, field)
            if value and not ENV_NAME.match(value):
                errors[field] = "An environment variable's name, e.g. DAYLIGHT_WEBHOOK_SECRET."
        if self.is_email:
            for field in ("url", "url_env", "secret_env"):
                if getattr(self, field):
                    errors[field] = "E-mail channels have no URL or signing key."
            for address in self.recipient_list():
                try:
                    validate_email(address)
                except ValidationError:
                    errors["recipients"] = f"Not an e-mail address: {address[:100]}"
        else:
            if self.recipients:
                errors["recipients"] = "Only e-mail channels have recipients."
            if self.url and self.url_env:
                errors["url"] = "Give the URL or the variable that holds it, not both."
            elif not (self.url or self.url_env):
                errors["url_env"] = "Name the environment variable that holds the URL."
            elif self.url and self.kind != self.Kind.WEBHOOK:
                errors["url"] = f"This URL is itself a secret: {CREDENTIALS_ADVICE} (url_env)."
            if url_has_password(self.url):
                errors["url"] = f"The URL carries a password: {CREDENTIALS_ADVICE}."
            if self.secret_env and self.kind != self.Kind.WEBHOOK:
                errors["secret_env"] = "Only generic webhooks are signed."
        if errors:
            raise ValidationError(errors)


class NotificationRule(models.Model):
    """When to tell whom: an event, optionally only about one team's assets, sent to a channel.

    Untracked assets have no owner, so rules about them (and about failing sources, which belong
    to no team) are estate-wide: they take no team.
    """

    class Event(models.TextChoices):
        NEW_UNTRACKED = "new_untracked", "New untracked asset"
        EXPOSED = "exposed", "Asset became internet-exposed"
        CRITICAL_FINDING = "critical_finding", "Critical finding opened"
        RISK_EXPIRED = "risk_expired", "Accepted risk expired"
        SOURCE_FAILING = "source_failing", "Source failing"

    ESTATE_WIDE = (Event.NEW_UNTRACKED, Event.SOURCE_FAILING)

    name = models.CharField(max_length=100)
    event = models.CharField(max_length=32, choices=Event.choices)
    team = models.ForeignKey(
        "inventory.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_rules",
        help_text="Only this team's assets. Blank: every asset.",
    )
    channel = models.ForeignKey(NotificationChannel, on_delete=models.PROTECT, related_name="rules")
    failing_runs = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="Source failing only: after this many failed runs in a row.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "name", "id"]
        indexes = [models.Index(fields=["event", "enabled"], name="notifyrule_event")]

    def __str__(self):
        return self.name

    audit_type = "notification_rule"

    def snapshot(self) -> dict:
        return {
            "name": self.name,
            "event": self.event,
            "team": self.team.name if self.team_id else None,
            "channel": self.channel.name if self.channel_id else None,
            "failing_runs": self.failing_runs,
            "enabled": self.enabled,
        }

    def clean(self):
        if self.team_id and self.event in self.ESTATE_WIDE:
            raise ValidationError(
                {"team": f"“{self.get_event_display()}” is estate-wide: it has no team to filter."}
            )
        channel = self.channel if self.channel_id else None
        if channel and channel.is_email and not channel.recipients and not self.team_id:
            raise ValidationError(
                {"channel": "This e-mail channel sends to the rule's team: choose a team."}
            )


class Delivery(models.Model):
    """One message for one rule — a digest of what one collection run (or one expiry pass) did —
    and whether it reached its channel."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(
        NotificationRule,
        null=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    channel = models.ForeignKey(
        NotificationChannel, null=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    event = models.CharField(max_length=32, choices=NotificationRule.Event.choices)
    key = models.CharField(max_length=100, help_text="What the message is about, e.g. run:42.")
    title = models.CharField(max_length=255)
    payload = models.JSONField(default=dict, help_text="The digest: counts, capped items, links.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # A run notified twice (a retried task) makes no second message.
            models.UniqueConstraint(fields=["rule", "key"], name="delivery_unique_rule_key"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="delivery_status_at")]

    def __str__(self):
        return self.title
