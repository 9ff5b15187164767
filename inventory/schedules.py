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


WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
QUARTER_STARTS = ({1, 4, 7, 10}, {2, 5, 8, 11}, {3, 6, 9, 12})


def describe_cron(expression: str) -> str | None:
    """The common cron schedules in words ("Daily at 06:00 UTC"); None for any other, so the
    caller shows the expression itself rather than a description that might be wrong."""
    try:
        fields = parse_cron(expression)
    except ValueError:
        return None
    if all(fields[name] == "*" for name in CRON_FIELDS[1:]):
        return _describe_intraday(fields["minute"])
    # crontab expands ranges, lists and steps into sets, so "1-5" and "1,2,3,4,5" read alike.
    cron = crontab(**fields)
    if len(cron.minute) != 1 or len(cron.hour) != 1:
        return None
    at = f"at {min(cron.hour):02d}:{min(cron.minute):02d} UTC"
    every_day, every_month = fields["day_of_month"] == "*", fields["month_of_year"] == "*"
    if fields["day_of_week"] != "*":
        return _describe_weekly(cron.day_of_week, at) if every_day and every_month else None
    if every_day:
        return f"Daily {at}" if every_month else None
    if len(cron.day_of_month) != 1:
        return None
    day = _ordinal(min(cron.day_of_month))
    if every_month:
        return f"Monthly on the {day} {at}"
    months = "/".join(MONTHS[month - 1] for month in sorted(cron.month_of_year))
    if set(cron.month_of_year) in QUARTER_STARTS:
        return f"Quarterly, on the {day} of {months} {at}"
    return f"Yearly, on the {day} of {months} {at}" if len(cron.month_of_year) == 1 else None


def _describe_intraday(minute: str) -> str | None:
    """Schedules that only restrict the minute: every N minutes, or hourly at a minute."""
    if minute == "*":
        return "Every minute"
    if minute.startswith("*/") and minute[2:].isdigit():
        step = int(minute[2:])
        if step == 1:
            return "Every minute"
        # A step that does not divide the hour restarts at :00, so the gaps are not all N.
        return f"Every {step} minutes" if step < 60 and 60 % step == 0 else None
    return f"Hourly at :{int(minute):02d}" if minute.isdigit() else None


def _describe_weekly(days: set[int], at: str) -> str:
    if set(days) == {1, 2, 3, 4, 5}:
        return f"Weekdays {at}"
    names = [WEEKDAYS[day] for day in sorted(days, key=lambda day: (day - 1) % 7)]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Weekly on {listed} {at}"


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


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
