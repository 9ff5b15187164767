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


def task_name(source) -> str:
    return f"daylight-source-{source.pk}"


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
