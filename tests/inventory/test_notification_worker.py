"""Delivery retries through a real Celery worker and broker: the receiver fails the first
attempt, Celery's autoretry puts the task back on the queue with backoff, and the second
attempt — in the worker, after the wait — is the one recorded as sent.

Needs a broker and PostgreSQL, like tests/test_celery_worker.py (skipped otherwise).
"""

import time

import pytest

from inventory.models import Delivery, NotificationChannel
from inventory.tasks import deliver_notification
from tests.workers import WORKER_TEST, celery_worker

pytestmark = WORKER_TEST
FINISH_WITHIN = 60  # seconds: worker start-up, two attempts and a backoff of at most 1 s
SECRET = "worker-signing-key"


@pytest.fixture
def notify_worker(tmp_path):
    log_path = tmp_path / "worker.log"
    with celery_worker(
        log_path,
        DAYLIGHT_NOTIFY_BACKOFF="1",  # the first retry waits up to a second
        DAYLIGHT_NOTIFY_RETRIES="3",
        TEST_WORKER_HOOK_SECRET=SECRET,
    ) as (process, queue):
        yield process, queue, log_path


def _wait_until_settled(delivery, process, log_path) -> Delivery:
    deadline = time.monotonic() + FINISH_WITHIN
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status != Delivery.Status.PENDING:
            return delivery
        if process.poll() is not None:
            pytest.fail(f"the worker exited:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.25)
    pytest.fail(f"still pending after {FINISH_WITHIN}s:\n{log_path.read_text()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_the_worker_retries_a_failed_delivery_with_backoff(notify_worker, http_receiver):
    process, queue, log_path = notify_worker
    http_receiver.statuses = [500]
    channel = NotificationChannel.objects.create(
        name="hook", kind="webhook", url=http_receiver.url, secret_env="TEST_WORKER_HOOK_SECRET"
    )
    delivery = Delivery.objects.create(
        channel=channel,
        event="exposed",
        key="run:1",
        title="1 asset became internet-exposed in prod",
        payload={"title": "1 asset became internet-exposed in prod", "items": [], "count": 1},
    )

    deliver_notification.apply_async(args=[delivery.pk], queue=queue)
    delivery = _wait_until_settled(delivery, process, log_path)

    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")
    assert len(http_receiver.requests) == 2
    first, second = http_receiver.requests
    assert first.json()["delivery"] == second.json()["delivery"] == delivery.pk
    assert second.signed_with(SECRET.encode())
    log = log_path.read_text()
    assert "daylight.deliver_notification" in log and "Retry in" in log
