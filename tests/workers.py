"""A real ``celery -A config worker`` process for the tests that need one: on a queue of its own,
so no other worker on the same broker takes a test's message and no stale message reaches this
worker, reading and writing the test's own database."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from config.celery import app

REPO = Path(__file__).resolve().parent.parent
# The marks of a module whose tests start a worker: without a broker there is nothing to start.
WORKER_TEST = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL,
        reason="needs a broker: set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)",
    ),
]


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


@contextmanager
def celery_worker(log_path: Path, **env):
    """Yields the worker process and its queue; stops the worker and deletes its queue after."""
    queue = f"daylight-test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
        "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-Q", queue, "-n", f"{queue}@%h",
    ]  # fmt: skip
    keys_before = _broker_keys()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        yield process, queue
    finally:
        stop(process)
        _delete_queue(queue)
        _delete_keys_added_since(keys_before)


def wait_until(done, process, log_path: Path, within: float, waiting_for: str) -> None:
    """Until ``done()`` is true; fails with the worker's log when it exits or ``within``
    seconds pass first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if done():
            return
        if process.poll() is not None:
            pytest.fail(f"the worker exited:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.25)
    pytest.fail(f"{waiting_for} not done within {within}s:\n{log_path.read_text()[-4000:]}")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task, then exit
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _delete_queue(name):
    """The queue's messages and its binding, which the broker would otherwise keep for good."""
    with app.connection_for_write() as broker:
        queue = app.amqp.queues[name].bind(broker.default_channel)
        queue.declare()  # the channel deletes only bindings it knows of
        queue.delete()


def _broker_keys() -> set[bytes]:
    with redis.Redis.from_url(settings.CELERY_BROKER_URL) as broker:
        return set(broker.keys("*"))


def _delete_keys_added_since(keys_before: set[bytes]) -> None:
    """What the worker left in Redis besides its queue (its remote-control binding and that
    binding's deadline), so the broker's database is as the test found it."""
    with redis.Redis.from_url(settings.CELERY_BROKER_URL) as broker:
        added = set(broker.keys("*")) - keys_before
        if added:
            broker.delete(*added)


def take_messages_sent_by(task_id: str) -> list[tuple[str, list]]:
    """Remove from the default queue the messages that task ``task_id`` sent there, as (task
    name, args). No test worker consumes that queue, so they would wait on the broker for the
    next worker started against it."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    taken = []
    with redis.Redis.from_url(settings.CELERY_BROKER_URL) as broker:
        for raw in broker.lrange(queue, 0, -1):
            message = json.loads(raw)
            if message["headers"].get("parent_id") == task_id and broker.lrem(queue, 1, raw):
                args = json.loads(base64.b64decode(message["body"]))[0]
                taken.append((message["headers"]["task"], args))
    return taken
