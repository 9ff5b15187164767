"""SIEM export retries through a real Celery worker and broker: the HTTP endpoint refuses the
first batch, takes the next, refuses one mid-stream, then takes the rest. Celery's autoretry
puts the task back on the queue with backoff each time, and the worker catches up.

What the README promises is checked from the endpoint's side: every record arrives, each batch
the endpoint accepted is never sent again (only refused ones are), and when a batch arrives the
cursors have moved by exactly what was accepted before it, not more.

Needs a broker and PostgreSQL, like tests/test_celery_worker.py (skipped otherwise).
"""

import json
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import connection
from django.db.models import Sum

from inventory.models import ExportCursor
from inventory.siem.records import streams_for
from inventory.tasks import export_to_destination
from tests.servers import LocalHTTPServer, QuietHandler
from tests.workers import WORKER_TEST, celery_worker

from .test_siem import destination, estate, expected_ids

pytestmark = WORKER_TEST
__all__ = ["estate"]  # a fixture: three assets with findings, access events and decisions
FINISH_WITHIN = 90  # seconds: worker start-up, eight batches and two backoffs of at most 1 s
TOKEN = "worker-siem-token"


@dataclass
class Batch:
    status: int
    ids: list
    exported_before: int  # the destination's cursors' total when the batch arrived
    authorization: str


class CursorWatchingEndpoint:
    """An HTTP endpoint answering each POST with the next scripted status (then 200) that
    notes, as each batch arrives, how far the destination's cursors have moved."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.batches: list[Batch] = []
        self.destination_id = None

    def exported(self) -> int:
        try:
            total = ExportCursor.objects.filter(destination_id=self.destination_id).aggregate(
                total=Sum("exported")
            )["total"]
        finally:
            connection.close()  # this request's thread's own connection
        return total or 0

    def receive(self, body: bytes, authorization: str) -> int:
        ids = [json.loads(line)["id"] for line in body.decode().splitlines()]
        status = self.statuses.pop(0) if self.statuses else 200
        self.batches.append(Batch(status, ids, self.exported(), authorization))
        return status

    def accepted(self) -> list[str]:
        return [id_ for batch in self.batches if batch.status == 200 for id_ in batch.ids]


@pytest.fixture
def endpoint():
    # Down at first; back for one batch; down again within the same stream; then well.
    watcher = CursorWatchingEndpoint([503, 200, 502])

    class Handler(QuietHandler):
        def do_POST(self):
            status = watcher.receive(self.read_body(), self.headers["Authorization"])
            self.reply(status, b"ok", "text/plain")

    with LocalHTTPServer(Handler) as server:
        watcher.url = server.url
        yield watcher


@pytest.fixture
def siem_worker(tmp_path):
    log_path = tmp_path / "worker.log"
    with celery_worker(
        log_path,
        DAYLIGHT_SIEM_BATCH="2",
        DAYLIGHT_SIEM_BACKOFF="1",  # each retry waits up to a second
        DAYLIGHT_SIEM_BACKOFF_MAX="1",
        DAYLIGHT_SIEM_RETRIES="3",
        DAYLIGHT_SIEM_SETTLE="0",  # nothing else writes: every committed record may go at once
        DAYLIGHT_SIEM_RESOLVED_SETTLE="0",
        SIEM_TOKEN=TOKEN,
    ) as (process, queue):
        yield process, queue, log_path


def _wait_until_caught_up(dest, process, log_path) -> None:
    """Until every stream's cursor has had a run without error."""
    streams = {stream.name for stream in streams_for(dest)}
    deadline = time.monotonic() + FINISH_WITHIN
    while time.monotonic() < deadline:
        done = ExportCursor.objects.filter(
            destination=dest, last_success_at__isnull=False, last_error=""
        ).values_list("stream", flat=True)
        if set(done) == streams:
            return
        if process.poll() is not None:
            pytest.fail(f"the worker exited:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.25)
    pytest.fail(f"not caught up after {FINISH_WITHIN}s:\n{log_path.read_text()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_the_worker_retries_a_refused_batch_and_loses_nothing(
    estate, admin_user, endpoint, siem_worker
):
    process, queue, log_path = siem_worker
    dest = destination(admin_user, kind="http", url=endpoint.url, token_env="SIEM_TOKEN")
    endpoint.destination_id = dest.pk
    wanted = expected_ids()

    export_to_destination.apply_async(args=[dest.pk], queue=queue)
    _wait_until_caught_up(dest, process, log_path)

    assert [batch.status for batch in endpoint.batches[:3]] == [503, 200, 502]
    accepted = endpoint.accepted()
    assert set(accepted) == wanted  # nothing lost
    # At least once, as documented: only a refused batch's records are sent again.
    assert max(Counter(accepted).values()) == 1
    refused = {id_ for batch in endpoint.batches if batch.status != 200 for id_ in batch.ids}
    assert refused <= set(accepted)
    # The cursors move on acceptance, by the batch: never before, never for a refused one.
    taken = 0
    for batch in endpoint.batches:
        assert batch.exported_before == taken
        taken += len(batch.ids) if batch.status == 200 else 0
    assert ExportCursor.objects.filter(destination=dest).aggregate(Sum("exported")) == {
        "exported__sum": len(wanted)
    }
    assert {batch.authorization for batch in endpoint.batches} == {f"Bearer {TOKEN}"}
    log = log_path.read_text()
    assert "daylight.export_destination" in log and log.count("Retry in") == 2
