from django.db import models

from .choices import RunStatus, RunTrigger


class RunCounts(models.Model):
    """What a collection saw: shared by a whole run and each of its scopes."""

    seen = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    gone = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class CollectionRun(RunCounts):
    """One collection of one source, started by the schedule, an operator or the command line."""

    source = models.ForeignKey("inventory.Source", on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(
        max_length=20, choices=RunTrigger.choices, default=RunTrigger.SCHEDULE
    )
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["source", "-started_at"], name="run_source_started")]

    def __str__(self):
        return f"{self.source.name} @ {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class ScopeRun(RunCounts):
    """The part of a collection run that read one scope, with its own outcome and error."""

    run = models.ForeignKey(CollectionRun, on_delete=models.CASCADE, related_name="scope_runs")
    scope = models.ForeignKey("inventory.Scope", on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    complete = models.BooleanField(default=False, help_text="Every page of the scope was read.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    api_calls = models.PositiveIntegerField(
        null=True, blank=True, help_text="Provider API requests sent (empty: not counted)."
    )
    throttled = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests the provider answered with throttling."
    )

    class Meta:
        ordering = ["run", "scope__key"]

    def __str__(self):
        return f"{self.scope} ({self.status})"


class CollectionTotal(models.Model):
    """A running total of finished collection work — runs by outcome, assets seen, time taken,
    failed scopes, API calls — added to in the transaction that records each finished run or
    scope. These totals are the Prometheus counters: they only grow, whereas the runs they count
    are pruned by retention (a counter read from those rows would fall, which Prometheus takes
    for a restart)."""

    provider = models.CharField(max_length=20)
    source = models.CharField(max_length=100, blank=True, help_text="Source name; blank: all.")
    scope = models.CharField(max_length=255, blank=True, help_text="Scope key; blank: all.")
    measure = models.CharField(max_length=40, help_text="What is counted, e.g. runs:succeeded.")
    value = models.FloatField(default=0)

    class Meta:
        ordering = ["provider", "source", "scope", "measure"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "source", "scope", "measure"], name="collection_total_key"
            )
        ]

    def __str__(self):
        labels = "/".join(part for part in (self.provider, self.source, self.scope) if part)
        return f"{labels} {self.measure} = {self.value:g}"
