"""Celery tasks: thin, named, taking ids."""

from celery import shared_task

from inventory.models import RunTrigger, Source
from inventory.selectors import warm_rollups
from inventory.tasks import notify_run

from .runner import run_source


@shared_task(name="daylight.collect_source")
def collect_source(source_id: int, trigger: str = RunTrigger.SCHEDULE) -> int | None:
    """Collect one source; returns the CollectionRun id (None if the source is gone or disabled)."""
    source = Source.objects.filter(pk=source_id, enabled=True).first()
    if source is None:
        return None
    run = run_source(source, trigger)
    # Count the estate now, in the worker, rather than in the next person's page view.
    warm_rollups()
    # Notifications are read from what the run wrote, after it, so ingest stays fast.
    notify_run.delay(run.pk)
    return run.pk
