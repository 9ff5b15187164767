"""A real Celery worker process, fed through the real broker, collecting into the test database.

This is the production path end to end: a task message goes through Redis to a separate
``celery -A config worker`` process, which runs the collection and commits it to the same
database the test reads. It needs a broker, so it runs when CELERY_BROKER_URL is set (CI's
PostgreSQL + Redis run) and is skipped otherwise.
"""

import time

import pytest
from django.conf import settings

from collectors.tasks import collect_source
from inventory.models import Asset, CollectionRun, RunStatus, RunTrigger, Source
from tests.workers import WORKER_TEST, celery_worker, stop, take_messages_sent_by

pytestmark = WORKER_TEST
FINISH_WITHIN = 90  # seconds: worker start-up plus one demo collection, with room to spare
FINISHED = {RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.SKIPPED}


@pytest.fixture
def worker(tmp_path):
    log_path = tmp_path / "worker.log"
    with celery_worker(log_path) as (process, queue):
        yield process, queue, log_path


def _wait_for_run(source, process, log_path) -> CollectionRun:
    deadline = time.monotonic() + FINISH_WITHIN
    while time.monotonic() < deadline:
        run = CollectionRun.objects.filter(source=source).first()
        if run is not None and run.status in FINISHED:
            return run
        if process.poll() is not None:
            pytest.fail(
                f"the worker exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        time.sleep(0.25)
    pytest.fail(
        f"no finished collection within {FINISH_WITHIN}s; worker log:\n"
        f"{log_path.read_text()[-4000:]}"
    )


# The worker commits in its own connection; the test must read committed rows, not a
# transaction of its own that the worker cannot see.
@pytest.mark.django_db(transaction=True)
def test_worker_collects_a_source_sent_through_the_broker(worker):
    process, queue, log_path = worker
    source = Source.objects.create(name="worker-demo", provider="demo", config={"seed": 3})
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "with a broker, tasks must leave the process"

    sent = collect_source.apply_async(args=[source.id], queue=queue)
    run = _wait_for_run(source, process, log_path)
    stop(process)  # a warm shutdown: the task ends, so everything it sends is on the broker

    # The run's notifications follow on the default queue, which no worker here consumes:
    # the test takes them off the broker rather than leave them for the next worker.
    assert take_messages_sent_by(sent.id) == [("daylight.notify_run", [run.pk])]

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.trigger == RunTrigger.SCHEDULE
    assert run.finished_at is not None
    assert run.scope_runs.count() == run.scope_runs.filter(status=RunStatus.SUCCEEDED).count() > 0
    stored = Asset.objects.filter(source=source, gone_at__isnull=True).count()
    assert stored > 0
    assert run.new == stored and run.seen == stored
    assert "daylight.collect_source" in log_path.read_text()
