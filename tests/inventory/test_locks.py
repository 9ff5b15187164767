"""Collection locks, in both stores: a database row (embedded) and Redis (production)."""

import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from collectors.runner import run_source
from inventory import locks
from inventory.models import Asset, Lease, RunStatus, RunTrigger, ScopeRun

pytestmark = pytest.mark.django_db
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _redis_url():
    """The configured Redis, or the local one; skip only when none is configured or running."""
    url = settings.REDIS_URL or LOCAL_REDIS
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        if settings.REDIS_URL:
            raise
        pytest.skip(f"no REDIS_URL configured and no Redis answers at {LOCAL_REDIS}: {exc}")
    return url


@pytest.fixture(params=["database", "redis"])
def lock_store(request, settings):
    """Runs a test once with each lock store; yields a function that expires a held lock."""
    if request.param == "database":
        settings.REDIS_URL = ""

        def expire(name):
            Lease.objects.filter(name=name).update(expires_at=timezone.now() - timedelta(seconds=1))

        yield expire
        return

    settings.REDIS_URL = _redis_url()
    client = redis.Redis.from_url(settings.REDIS_URL)

    def expire(name):
        key = f"daylight:lock:{name}"
        client.pexpire(key, 1)
        deadline = time.monotonic() + 5
        while client.exists(key) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not client.exists(key), "Redis did not expire the lock key"

    yield expire


def unique_name():
    # Redis outlives test transactions: never let two tests (or two runs) share a lock name.
    return f"test:{uuid.uuid4().hex}"


def test_second_holder_is_refused_while_the_first_holds(lock_store):
    name = unique_name()
    with locks.hold(name, ttl=60) as first:
        assert first is True
        with locks.hold(name, ttl=60) as second:
            assert second is False
    with locks.hold(name, ttl=60) as after_release:
        assert after_release is True


def test_locks_of_different_names_do_not_block_each_other(lock_store):
    with locks.hold(unique_name(), ttl=60) as one, locks.hold(unique_name(), ttl=60) as other:
        assert one is True and other is True


def test_an_expired_lock_can_be_taken_over(lock_store):
    name = unique_name()
    with locks.hold(name, ttl=60) as first:
        assert first
        lock_store(name)  # the first holder's lease runs out, as when its worker was killed
        with locks.hold(name, ttl=60) as takeover:
            assert takeover is True
            with locks.hold(name, ttl=60) as third:
                assert third is False


def test_leaving_an_expired_hold_keeps_the_new_holders_lock(lock_store):
    name = unique_name()
    first = locks.hold(name, ttl=60)
    assert first.__enter__() is True
    lock_store(name)
    second = locks.hold(name, ttl=60)
    assert second.__enter__() is True
    first.__exit__(None, None, None)  # must not free what the second holder now holds
    with locks.hold(name, ttl=60) as intruder:
        assert intruder is False
    second.__exit__(None, None, None)
    with locks.hold(name, ttl=60) as free:
        assert free is True


def test_run_source_records_a_skipped_run_while_the_source_is_locked(lock_store, source):
    with locks.hold(f"source:{source.pk}") as acquired:
        assert acquired
        run = run_source(source, RunTrigger.MANUAL)
        with locks.hold(f"source:{source.pk}") as still_held:
            assert still_held is False, "the skipped run must not release someone else's lock"

    run.refresh_from_db()
    assert run.status == RunStatus.SKIPPED
    assert run.trigger == RunTrigger.MANUAL
    assert run.finished_at == run.started_at
    assert "still running" in run.error
    assert not ScopeRun.objects.filter(run=run).exists()
    assert not Asset.objects.exists()
