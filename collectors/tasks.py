"""Celery tasks: thin, named, taking ids."""

from celery import shared_task

from inventory.models import RunTrigger, Source

from .runner import run_source


@shared_task(name="daylight.collect_source")
def collect_source(source_id: int, trigger: str = RunTrigger.SCHEDULE) -> int | None:
    """Collect one source; returns the CollectionRun id (None if the source is gone or disabled)."""
    source = Source.objects.filter(pk=source_id, enabled=True).first()
    if source is None:
        return None
    return run_source(source, trigger).pk
