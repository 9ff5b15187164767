from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.urls import reverse


def report_storage():
    """Where rendered reports are kept: the ``reports`` storage (a folder under MEDIA_ROOT by
    default; any Django storage backend by settings). A callable, so changing it needs no
    migration."""
    return storages["reports"]


def report_path(report, filename: str) -> str:
    return f"reports/{report.created_at:%Y/%m}/{report.pk}/{filename}"


class Report(models.Model):
    """A posture report for the organisation or one team over a period: its figures, computed
    once when it was made, and the HTML, PDF and CSV they were rendered as, kept for auditors."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being made"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "On demand"

    class Scope(models.TextChoices):
        ORGANISATION = "organisation", "Organisation"
        TEAM = "team", "Team"

    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ORGANISATION)
    # A team's report outlives the team: its name and slug stay.
    team = models.ForeignKey(
        "inventory.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    scope_name = models.CharField(max_length=100, help_text="Whose report, as it was then.")
    scope_slug = models.SlugField(max_length=100, blank=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.BooleanField(default=False, help_text="Send it to its recipients when ready.")
    figures = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    html = models.FileField(storage=report_storage, upload_to=report_path, blank=True)
    pdf = models.FileField(storage=report_storage, upload_to=report_path, blank=True)
    csv = models.FileField(storage=report_storage, upload_to=report_path, blank=True)
    emailed_to = models.TextField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.scope_name} posture report {self.period_end:%Y-%m-%d}"

    audit_type = "report"

    def get_absolute_url(self):
        return reverse("dashboard:report-file", args=[self.pk, "html"])

    def filename(self, extension: str) -> str:
        scope = self.scope_slug or self.scope
        return f"daylight-posture-{scope}-{self.period_end:%Y-%m-%d}.{extension}"
