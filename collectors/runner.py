"""Runs one source's collection: lock, run record, every scope through the ingest path.

Scopes are read at the same time, up to ``DAYLIGHT_SCOPE_CONCURRENCY`` of them, each in its
own worker thread; the records stream back through a small bounded queue to the calling thread,
which alone writes to the database (one connection per run, so the embedded SQLite default
never sees two writers, and each scope's ingest keeps its order). One scope's failure is recorded
on its ScopeRun and never touches another scope's assets.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from config.logs import log_context
from inventory import locks, metrics
from inventory.ingest import ScopeIngest
from inventory.models import CollectionRun, RunStatus, RunTrigger, Scope, ScopeRun, Source

from . import telemetry
from .base import Collector, SourceSettings, collector_class
from .records import ScopeSpec

logger = logging.getLogger(__name__)
COUNT_FIELDS = ("seen", "new", "changed", "gone", "events")
MAX_ERROR = 2000
# Records travel from a scope's reader to the ingesting thread in chunks of this many, so the
# hand-over costs little per record; the queue holds a few chunks per reader, so a reader
# faster than ingest waits instead of piling records up in memory.
CHUNK = 200
CHUNKS_PER_READER = 4


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]


class Clock:
    """Wall time, or simulated time advancing from ``start`` (used to backfill the demo estate)."""

    def __init__(self, start: datetime | None = None):
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        if self._start is None:
            return timezone.now()
        return self._start + timedelta(seconds=time.monotonic() - self._origin)


def scope_workers(collector: Collector, scopes: int, wanted: int | None = None) -> int:
    """How many of ``collector``'s scopes to read at once."""
    if not collector.independent_scopes:
        return 1
    wanted = settings.DAYLIGHT_SCOPE_CONCURRENCY if wanted is None else wanted
    return max(1, min(wanted, scopes))


def run_source(
    source: Source,
    trigger: str = RunTrigger.SCHEDULE,
    *,
    at: datetime | None = None,
    on_scope: Callable[[ScopeRun], None] | None = None,
    concurrency: int | None = None,
) -> CollectionRun:
    """Collect ``source`` now (or as of ``at``) unless a collection of it is already running.

    ``concurrency`` overrides ``DAYLIGHT_SCOPE_CONCURRENCY`` (how many scopes are read at once).
    """
    clock = Clock(at)
    with locks.hold(f"source:{source.pk}") as acquired:
        if not acquired:
            started = clock.now()
            with transaction.atomic():
                skipped = CollectionRun.objects.create(
                    source=source,
                    trigger=trigger,
                    status=RunStatus.SKIPPED,
                    started_at=started,
                    finished_at=started,
                    error="Another collection of this source is still running.",
                )
                metrics.count_finished_run(skipped)
            return skipped
        run = CollectionRun.objects.create(source=source, trigger=trigger, started_at=clock.now())
        # Every log line of the run carries these, in the reader threads too (copied contexts).
        with log_context(run_id=run.pk, source=source.name, provider=source.provider):
            logger.info("collection started (%s)", trigger)
            return _collect(run, source, clock, on_scope, concurrency)


def _collect(run, source, clock, on_scope, concurrency) -> CollectionRun:
    try:
        collector = collector_class(source.provider)(
            SourceSettings(source.name, source.provider, source.config, source.endpoint_url),
            run.started_at,
        )
        specs = collector.scopes()
    except Exception as exc:  # nothing was read, so nothing is touched; say why
        logger.warning("source %s: cannot list scopes: %s", source.name, describe_error(exc))
        return _finish(run, clock, [], f"Listing scopes failed: {describe_error(exc)}")
    workers = scope_workers(collector, len(specs), concurrency)
    scope_runs = _Collection(run, collector, specs, clock, on_scope).collect(workers)
    return _finish(run, clock, scope_runs)


# What a reader sends to the ingesting thread: (scope index, kind, payload). ENDED's payload is
# (the reading's failure or None, the API calls it counted).
STARTED, RECORDS, ENDED = "started", "records", "ended"


class ReadingStopped(Exception):
    """A scope's reading was stopped early because of an error elsewhere: it is incomplete."""


class _Collection:
    """One run's scopes: readers in a bounded pool of threads, ingest in the calling thread."""

    def __init__(self, run, collector, specs: list[ScopeSpec], clock, on_scope):
        self.run = run
        self.collector = collector
        self.specs = specs
        self.clock = clock
        self.on_scope = on_scope
        # Made before reading starts, so reader threads know their scope's id for the logs.
        self.scopes = [
            Scope.objects.update_or_create(
                source=run.source, key=spec.key, defaults={"account": spec.account}
            )[0]
            for spec in specs
        ]
        self.stops = [threading.Event() for _ in specs]  # set: the reader should give up

    def collect(self, workers: int) -> list[ScopeRun]:
        if not self.specs:
            return []
        inbox = queue.Queue(maxsize=CHUNKS_PER_READER * workers)
        ingesting: dict[int, _ScopeInProgress] = {}
        finished: dict[int, ScopeRun] = {}
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="daylight-scope")
        try:
            for index in range(len(self.specs)):
                pool.submit(copy_context().run, self._read, index, inbox)
            while len(finished) < len(self.specs):
                index, kind, payload = inbox.get()
                if kind == STARTED:
                    ingesting[index] = _ScopeInProgress(
                        self.run, self.scopes[index], self.specs[index], self.clock
                    )
                elif kind == RECORDS:
                    if not ingesting[index].add(payload):
                        self.stops[index].set()  # ingest failed: no use reading further
                else:
                    if index not in ingesting:  # stopped before it began
                        ingesting[index] = _ScopeInProgress(
                            self.run, self.scopes[index], self.specs[index], self.clock
                        )
                    finished[index] = ingesting.pop(index).end(*payload)
                    if self.on_scope:
                        self.on_scope(finished[index])
        finally:
            self._stop_readers(inbox, len(self.specs) - len(finished))
            pool.shutdown(wait=True)
        return [finished[index] for index in range(len(self.specs))]

    def _read(self, index: int, inbox: queue.Queue) -> None:
        """A worker thread: read one scope, sending its records on in chunks."""
        if self.stops[index].is_set():  # the run is being abandoned; this scope never began
            inbox.put((index, ENDED, (ReadingStopped(), None)))
            return
        inbox.put((index, STARTED, None))
        failure = None
        scope = self.scopes[index]
        with log_context(scope_id=scope.pk, scope=scope.key), telemetry.counting() as calls:
            try:
                self._send_records(index, inbox)
            except BaseException as exc:  # this scope failed; the others go on
                failure = exc
            finally:
                inbox.put((index, ENDED, (failure, calls)))
                connections.close_all()  # collectors do not use the database; if one did, let go

    def _send_records(self, index: int, inbox: queue.Queue) -> None:
        stop, spec = self.stops[index], self.specs[index]
        chunk = []
        cursor = dict(self.scopes[index].cursor or {})
        records = iter(self.collector.collect(spec, cursor))
        try:
            for record in records:
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    inbox.put((index, RECORDS, chunk))
                    chunk = []
                    if stop.is_set():
                        raise ReadingStopped(f"reading {spec.key} stopped after an error")
        finally:
            if hasattr(records, "close"):
                records.close()  # the collector's own clean-up runs now, in this thread
            if chunk:
                inbox.put((index, RECORDS, chunk))

    def _stop_readers(self, inbox: queue.Queue, still_reading: int) -> None:
        """After an error in this thread: tell readers to stop, and take what they still send so
        none waits forever on a full queue."""
        if not still_reading:
            return
        for stop in self.stops:
            stop.set()
        while still_reading:
            if inbox.get()[1] == ENDED:
                still_reading -= 1


class _ScopeInProgress:
    """One scope's run record and ingest, from its reader's start to its end."""

    def __init__(self, run, scope: Scope, spec: ScopeSpec, clock):
        self.spec = spec
        self.clock = clock
        self.scope = scope
        self.scope_run = ScopeRun.objects.create(run=run, scope=self.scope, started_at=clock.now())
        self.ingest = ScopeIngest(self.scope_run)
        self.failure: BaseException | None = None

    def add(self, records) -> bool:
        """Ingest ``records``; False once this scope's ingest has failed."""
        if self.failure is not None:
            return False
        try:
            with self._logged():
                for record in records:
                    self.ingest.add(record)
        except Exception as exc:  # a database fault writing this scope
            self.failure = exc
            return False
        return True

    def end(self, read_failure: BaseException | None, calls) -> ScopeRun:
        failure = self.failure or read_failure
        with self._logged():
            try:
                self.ingest.finish(complete=failure is None)
            except Exception as exc:  # a database fault writing this scope
                failure = failure or exc
            return self._record(failure, calls)

    def _logged(self):
        return log_context(scope_id=self.scope.pk, scope=self.spec.key)

    def _record(self, failure, calls) -> ScopeRun:
        scope_run, scope, ingest = self.scope_run, self.scope, self.ingest
        if failure is not None:
            logger.warning(
                "source %s scope %s failed: %s",
                scope.source.name,
                self.spec.key,
                describe_error(failure),
            )
            scope_run.status, scope_run.error = RunStatus.FAILED, describe_error(failure)
        elif ingest.lost_records:
            scope_run.status = RunStatus.PARTIAL
            scope_run.error = "Records rejected (nothing marked gone):\n" + "\n".join(ingest.errors)
        else:
            scope_run.status, scope_run.complete = RunStatus.SUCCEEDED, True
        for name in COUNT_FIELDS:
            setattr(scope_run, name, ingest.counts[name])
        if calls is not None and calls.reported:
            scope_run.api_calls, scope_run.throttled = calls.calls, calls.throttled
        scope_run.finished_at = self.clock.now()
        with transaction.atomic():
            scope_run.save()
            metrics.count_finished_scope(scope_run, scope.source.provider, scope.source.name)
        logger.info(
            "scope %s %s: seen %d, new %d, changed %d, gone %d",
            self.spec.key,
            scope_run.status,
            *(ingest.counts[name] for name in ("seen", "new", "changed", "gone")),
        )

        scope.last_status, scope.last_run_at = scope_run.status, scope_run.finished_at
        if scope_run.complete:
            scope.last_success_at = scope_run.started_at
            if ingest.cursor is not None:
                scope.cursor = ingest.cursor
        scope.save(update_fields=["last_status", "last_run_at", "last_success_at", "cursor"])
        return scope_run


def _finish(run, clock, scope_runs, error="") -> CollectionRun:
    statuses = {s.status for s in scope_runs}
    if error or statuses == {RunStatus.FAILED}:
        run.status = RunStatus.FAILED
    elif statuses <= {RunStatus.SUCCEEDED}:
        run.status = RunStatus.SUCCEEDED
    else:
        run.status = RunStatus.PARTIAL
    for name in COUNT_FIELDS:
        setattr(run, name, sum(getattr(s, name) for s in scope_runs))
    run.error = (
        error
        or "\n".join(f"{s.scope.key}: {s.error}" for s in scope_runs if s.error)[: MAX_ERROR * 5]
    )
    run.finished_at = clock.now()
    with transaction.atomic():
        run.save()
        metrics.count_finished_run(run)
    logger.info("collection %s: seen %d, new %d, gone %d", run.status, run.seen, run.new, run.gone)
    return run
