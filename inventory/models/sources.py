from django.core.exceptions import ValidationError
from django.db import models

from .choices import Provider, RunStatus


class Source(models.Model):
    """Somewhere Daylight collects from: one AWS account, GCP project set, Azure subscription,
    Kubernetes cluster or Docker host, with its schedule.

    ``config`` holds the provider's scope (regions, role to assume, kube context, …) and never
    credentials: those come from the environment or the provider's default credential chain,
    optionally named here by reference (a profile name, an environment variable's name).
    """

    name = models.SlugField(max_length=100, unique=True)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    config = models.JSONField(default=dict, blank=True)
    endpoint_url = models.URLField(
        max_length=500, blank=True, help_text="Override the provider's API endpoint."
    )
    schedule = models.CharField(
        max_length=100,
        default="0 * * * *",
        help_text="Cron expression (minute hour day month weekday).",
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    audit_type = "source"
    DECLARED_FIELDS = (
        "name",
        "provider",
        "config",
        "endpoint_url",
        "schedule",
        "enabled",
        "description",
    )

    def snapshot(self) -> dict:
        """What a person declares of a source: what the audit log records, a sources file holds."""
        return {name: getattr(self, name) for name in self.DECLARED_FIELDS}

    def clean(self):
        from collectors.base import UnknownProvider, collector_class
        from inventory.credentials import CREDENTIALS_ADVICE, credential_paths, url_has_password
        from inventory.schedules import parse_cron

        errors = {}
        if found := credential_paths(self.config):
            errors["config"] = [f"{path}: {CREDENTIALS_ADVICE}" for path in found]
        if url_has_password(self.endpoint_url):
            errors["endpoint_url"] = f"endpoint_url carries a password: {CREDENTIALS_ADVICE}"
        try:
            parse_cron(self.schedule)
        except ValueError as exc:
            errors["schedule"] = str(exc)
        try:
            if problems := collector_class(self.provider).validate_config(self.config):
                errors.setdefault("config", []).extend(problems)
        except UnknownProvider as exc:
            errors["provider"] = str(exc)
        if errors:
            raise ValidationError(errors)


class Scope(models.Model):
    """One independently enumerable part of a source (an account+region, a project, a cluster).

    Assets are marked gone only within a scope that was read completely, so a failing region
    never makes another region's assets disappear.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="scopes")
    key = models.CharField(max_length=255)
    account = models.CharField(
        max_length=128, blank=True, help_text="Account, project or subscription the scope reads."
    )
    cursor = models.JSONField(
        default=dict,
        blank=True,
        help_text="Collector state carried between runs (e.g. last event time).",
    )
    last_status = models.CharField(max_length=20, choices=RunStatus.choices, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(
        null=True, blank=True, help_text="When every asset alive in this scope was last seen."
    )

    class Meta:
        ordering = ["source", "key"]
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="scope_unique_source_key"),
        ]

    def __str__(self):
        return f"{self.source.name}:{self.key}"
