"""Keeps each Source's cron schedule mirrored in django-celery-beat, which Celery beat reads."""

import json

from celery.schedules import crontab
from django_celery_beat.models import CrontabSchedule, PeriodicTask

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def parse_cron(expression: str) -> dict[str, str]:
    """Split a five-field cron expression; ValueError naming the problem if it is not one."""
    parts = str(expression).split()
    if len(parts) != 5:
        raise ValueError(
            f"schedule {expression!r} must have 5 fields: minute hour day month weekday"
        )
    fields = dict(zip(CRON_FIELDS, parts, strict=True))
    try:
        crontab(**fields)
    except ValueError as exc:
        raise ValueError(f"schedule {expression!r} is not a valid cron expression: {exc}") from None
    return fields


SOURCE_TASK_PREFIX = "daylight-source-"


def task_name(source) -> str:
    return f"{SOURCE_TASK_PREFIX}{source.pk}"


def sync(source) -> PeriodicTask:
    schedule, _ = CrontabSchedule.objects.get_or_create(
        **parse_cron(source.schedule), timezone="UTC"
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=task_name(source),
        defaults={
            "task": "daylight.collect_source",
            "crontab": schedule,
            "interval": None,
            "args": json.dumps([source.pk]),
            "enabled": source.enabled,
            "description": f"Collect source {source.name}",
        },
    )
    return task


def remove(source) -> None:
    PeriodicTask.objects.filter(name=task_name(source)).delete()


def retire_dropped_jobs(beat_schedule: dict) -> list[str]:
    """Delete the stored beat entries of Daylight's own jobs that ``beat_schedule`` no longer
    names (``DAYLIGHT_REPORT_SCHEDULE=off``). Beat's DatabaseScheduler adds and updates them
    from the settings at every start but never removes one, so a job once scheduled would
    run on. Sources' schedules are kept. Returns the names deleted."""
    dropped = (
        PeriodicTask.objects.filter(name__startswith="daylight-")
        .exclude(name__startswith=SOURCE_TASK_PREFIX)
        .exclude(name__in=list(beat_schedule))
    )
    names = []
    for task in dropped:  # one by one: each delete tells a running beat to reload
        task.delete()
        names.append(task.name)
    return names
