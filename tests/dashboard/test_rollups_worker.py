"""The estate-wide figures counted again by a real Celery worker, as beat has it do: the task
goes through the broker to a ``celery -A config worker`` process, which counts in the test's
database and caches in the Redis the web process reads, so the next page view is a warm one
that shows what the worker counted.

Needs a broker and PostgreSQL, like tests/test_celery_worker.py (skipped otherwise).
"""

import pytest

from inventory.models import Asset
from inventory.tasks import warm_rollups
from tests.workers import WORKER_TEST, celery_worker, wait_until

from .helpers import page_of, queries_for, text_of

pytestmark = WORKER_TEST
FINISH_WITHIN = 60  # seconds: worker start-up and one count of a small estate


# The worker reads in its own connection: the estate must be committed.
@pytest.mark.django_db(transaction=True)
def test_a_worker_counts_the_figures_again_for_the_next_page_view(client, viewer, estate, tmp_path):
    estate("prod", {"acct-a": 8})
    client.force_login(viewer)
    queries_for(client, "/")  # counts the figures and caches them
    warm = queries_for(client, "/")
    Asset.objects.filter(eol=True).update(eol=False)  # a write no data stamp sees
    assert text_of(page_of(client.get("/")), "eol-count") != "0"

    log_path = tmp_path / "worker.log"
    with celery_worker(log_path) as (process, queue):
        sent = warm_rollups.apply_async(queue=queue)
        wait_until(
            lambda: f"{sent.id}] succeeded" in log_path.read_text(),
            process,
            log_path,
            FINISH_WITHIN,
            "counting the figures",
        )

    assert queries_for(client, "/") == warm
    assert text_of(page_of(client.get("/")), "eol-count") == "0"
