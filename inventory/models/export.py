from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .notifications import ENV_NAME

STREAMS = ("findings", "access_events", "decisions", "audit")


class ExportDestination(models.Model):
    """Where a SIEM keeps its own copy of Daylight's record: a file, a syslog collector (RFC 5424
    over TCP, optionally TLS) or an HTTP endpoint, each sent JSON lines (see inventory.siem).

    A bearer token is never stored: ``token_env`` names the environment variable that holds it.
    """

    class Kind(models.TextChoices):
        FILE = "file", "File (JSON lines, appended)"
        SYSLOG = "syslog", "Syslog over TCP (RFC 5424)"
        HTTP = "http", "HTTP endpoint (POST of JSON lines)"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    path = models.CharField(
        max_length=500, blank=True, help_text="File only: absolute path; rotate it as you like."
    )
    host = models.CharField(max_length=255, blank=True, help_text="Syslog only.")
    port = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text="Syslog only: 514 for TCP and 6514 for TLS are usual.",
    )
    tls = models.BooleanField(default=False, help_text="Syslog only: TLS, verifying the server.")
    ca_file = models.CharField(
        max_length=500,
        blank=True,
        help_text="Syslog over TLS: CA bundle that signs the server's certificate. "
        "Blank: the system's.",
    )
    url = models.URLField(max_length=500, blank=True, help_text="HTTP only.")
    token_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="HTTP only: environment variable that holds a bearer token.",
    )
    streams = models.JSONField(
        default=list,
        blank=True,
        help_text=f"Which records to send, of {', '.join(STREAMS)}. Empty: all of them.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    audit_type = "export_destination"
    DECLARED_FIELDS = (
        "name",
        "kind",
        "path",
        "host",
        "port",
        "tls",
        "ca_file",
        "url",
        "token_env",
        "streams",
        "enabled",
    )
    FIELDS_BY_KIND = {
        Kind.FILE: {"path"},
        Kind.SYSLOG: {"host", "port", "tls", "ca_file"},
        Kind.HTTP: {"url", "token_env"},
    }

    def snapshot(self) -> dict:
        return {name: getattr(self, name) for name in self.DECLARED_FIELDS}

    def stream_names(self) -> list[str]:
        return [s for s in STREAMS if s in self.streams] if self.streams else list(STREAMS)

    def clean(self):
        from inventory.credentials import CREDENTIALS_ADVICE, url_has_password

        errors = {}
        mine = self.FIELDS_BY_KIND.get(self.kind, set())
        for kind_fields in self.FIELDS_BY_KIND.values():
            for name in kind_fields - mine:
                if getattr(self, name):
                    errors[name] = f"Not used by a {self.get_kind_display()} destination."
        if self.kind == self.Kind.FILE and not self.path.startswith("/"):
            errors["path"] = "An absolute path, e.g. /var/log/daylight/siem.jsonl."
        if self.kind == self.Kind.SYSLOG:
            if not self.host:
                errors["host"] = "The syslog collector's host name."
            if not self.port:
                errors["port"] = "The syslog collector's TCP port."
            if self.ca_file and not (self.tls and self.ca_file.startswith("/")):
                errors["ca_file"] = "An absolute path, for TLS only."
        if self.kind == self.Kind.HTTP:
            if not self.url:
                errors["url"] = "The endpoint's URL."
            elif url_has_password(self.url):
                errors["url"] = f"The URL carries a password: {CREDENTIALS_ADVICE} (token_env)."
        if self.token_env and not ENV_NAME.match(self.token_env):
            errors["token_env"] = "An environment variable's name, e.g. DAYLIGHT_SIEM_TOKEN."
        if not isinstance(self.streams, list) or set(self.streams) - set(STREAMS):
            errors["streams"] = f"A list of: {', '.join(STREAMS)}."
        if errors:
            raise ValidationError(errors)


class ExportCursor(models.Model):
    """How far one destination has acknowledged one stream, and how its last attempt went.

    ``last_id`` (with ``last_at`` for resolutions, which follow resolution time) only moves once
    the destination has acknowledged everything up to it: delivery is at least once.
    """

    destination = models.ForeignKey(
        ExportDestination, on_delete=models.CASCADE, related_name="cursors"
    )
    stream = models.CharField(max_length=32)
    last_id = models.BigIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)
    horizon = models.JSONField(
        default=list,
        blank=True,
        help_text="[time, highest id] seen at recent runs: ids settle once old enough.",
    )
    exported = models.BigIntegerField(default=0, help_text="Records acknowledged, in all.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["destination", "stream"]
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "stream"], name="exportcursor_unique_stream"
            ),
        ]

    def __str__(self):
        return f"{self.destination.name}:{self.stream}"
