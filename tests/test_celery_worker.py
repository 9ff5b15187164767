"""A real Celery worker process, fed through the real broker, collecting into the test database.

This is the production path end to end: a task message goes through Redis to a separate
``celery -A config worker`` process, which runs the collection and commits it to the same
database the test reads. It needs a broker, so it runs when CELERY_BROKER_URL is set (CI's
PostgreSQL + Redis run) and is skipped otherwise.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from collectors.tasks import collect_source
from inventory.models import Asset, CollectionRun, RunStatus, RunTrigger, Source

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL,
        reason="needs a broker: set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)",
    ),
]
REPO = Path(__file__).resolve().parent.parent
FINISH_WITHIN = 90  # seconds: worker start-up plus one demo collection, with room to spare
FINISHED = {RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.SKIPPED}


def worker_database_url() -> str:
    """A DATABASE_URL naming the database this test runs in (pytest-django's test database)."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip(
            f"the worker process cannot reach this test's {connection.vendor} database "
            f"{db['NAME']!r}; run with DATABASE_URL set to PostgreSQL"
        )
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def worker(tmp_path):
    """A `celery worker` subprocess on a queue of its own, so no other worker on the same broker
    takes this test's message and no stale message reaches this worker."""
    queue = f"daylight-test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        yield process, queue, log_path
    finally:
        _stop(process)


def _stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task, then exit
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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

    collect_source.apply_async(args=[source.id], queue=queue)
    run = _wait_for_run(source, process, log_path)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.trigger == RunTrigger.SCHEDULE
    assert run.finished_at is not None
    assert run.scope_runs.count() == run.scope_runs.filter(status=RunStatus.SUCCEEDED).count() > 0
    stored = Asset.objects.filter(source=source, gone_at__isnull=True).count()
    assert stored > 0
    assert run.new == stored and run.seen == stored
    assert "daylight.collect_source" in log_path.read_text()
