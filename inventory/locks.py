"""Named, expiring locks that keep two collections of one source from overlapping.

Redis holds them when configured (the production setup, shared by every worker); otherwise a
database row does, which is enough for the embedded default's single process.
"""

import secrets
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Lease


def _redis_client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@contextmanager
def _redis_lock(name, ttl):
    lock = _redis_client().lock(f"daylight:lock:{name}", timeout=ttl, blocking=False)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired and lock.owned():
            lock.release()


@contextmanager
def _database_lock(name, ttl):
    token = secrets.token_hex(16)
    now = timezone.now()
    try:
        with transaction.atomic():
            Lease.objects.filter(name=name, expires_at__lt=now).delete()
            Lease.objects.create(name=name, token=token, expires_at=now + timedelta(seconds=ttl))
        acquired = True
    except IntegrityError:
        acquired = False
    try:
        yield acquired
    finally:
        if acquired:
            Lease.objects.filter(name=name, token=token).delete()


def hold(name: str, ttl: int | None = None):
    """``with hold("source:3") as acquired:`` — ``acquired`` is False when someone else holds it.

    The lock expires after ``ttl`` seconds so a killed worker cannot hold it forever.
    """
    ttl = ttl or settings.DAYLIGHT_LOCK_TTL
    return _redis_lock(name, ttl) if settings.REDIS_URL else _database_lock(name, ttl)
