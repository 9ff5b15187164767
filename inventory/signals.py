from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import schedules
from .models import Source


@receiver(post_save, sender=Source)
def keep_schedule(sender, instance, **kwargs):
    schedules.sync(instance)


@receiver(post_delete, sender=Source)
def drop_schedule(sender, instance, **kwargs):
    schedules.remove(instance)
