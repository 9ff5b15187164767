"""The Celery app. Configuration comes from Django settings (``CELERY_*``)."""

import logging
import os

from celery import Celery
from celery.signals import beat_init
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)
app = Celery("daylight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def retire_dropped_jobs(sender=None, **kwargs):
    """At beat's start, after its scheduler stored the jobs the settings name: drop those they
    no longer name (a report schedule turned off), which the database scheduler would keep."""
    from inventory import schedules  # models: only once Django is set up

    for name in schedules.retire_dropped_jobs(settings.CELERY_BEAT_SCHEDULE):
        logger.info("beat: %s is no longer scheduled; its stored entry is deleted", name)
