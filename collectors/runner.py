"""Runs one source's collection: lock, run record, every scope through the ingest path.

One scope's failure is recorded on its ScopeRun and never touches another scope's assets.
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from inventory import locks
from inventory.ingest import ScopeIngest
from inventory.models import CollectionRun, RunStatus, RunTrigger, Scope, ScopeRun, Source

from .base import SourceSettings, collector_class
from .records import ScopeSpec

logger = logging.getLogger(__name__)
COUNT_FIELDS = ("seen", "new", "changed", "gone", "events")
MAX_ERROR = 2000


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


def run_source(
    source: Source,
    trigger: str = RunTrigger.SCHEDULE,
    *,
    at: datetime | None = None,
    on_scope: Callable[[ScopeRun], None] | None = None,
) -> CollectionRun:
    """Collect ``source`` now (or as of ``at``) unless a collection of it is already running."""
    clock = Clock(at)
    with locks.hold(f"source:{source.pk}") as acquired:
        if not acquired:
            started = clock.now()
            return CollectionRun.objects.create(
                source=source,
                trigger=trigger,
                status=RunStatus.SKIPPED,
                started_at=started,
                finished_at=started,
                error="Another collection of this source is still running.",
            )
        run = CollectionRun.objects.create(source=source, trigger=trigger, started_at=clock.now())
        try:
            collector = collector_class(source.provider)(
                SourceSettings(source.name, source.provider, source.config, source.endpoint_url),
                run.started_at,
            )
            specs = collector.scopes()
        except Exception as exc:  # nothing was read, so nothing is touched; say why
            logger.warning("source %s: cannot list scopes: %s", source.name, describe_error(exc))
            return _finish(run, clock, [], f"Listing scopes failed: {describe_error(exc)}")
        scope_runs = [_collect_scope(run, collector, spec, clock, on_scope) for spec in specs]
        return _finish(run, clock, scope_runs)


def _collect_scope(run, collector, spec: ScopeSpec, clock, on_scope) -> ScopeRun:
    scope, _ = Scope.objects.update_or_create(
        source=run.source, key=spec.key, defaults={"account": spec.account}
    )
    scope_run = ScopeRun.objects.create(run=run, scope=scope, started_at=clock.now())
    ingest = ScopeIngest(scope_run)
    failure = None
    try:
        for record in collector.collect(spec, scope.cursor):
            ingest.add(record)
    except Exception as exc:  # this scope failed; the others go on, and nothing here is marked gone
        failure = exc
    try:
        ingest.finish(complete=failure is None)
    except Exception as exc:  # a database fault writing this scope
        failure = failure or exc

    if failure is not None:
        logger.warning(
            "source %s scope %s failed: %s", run.source.name, spec.key, describe_error(failure)
        )
        scope_run.status, scope_run.error = RunStatus.FAILED, describe_error(failure)
    elif ingest.lost_records:
        scope_run.status = RunStatus.PARTIAL
        scope_run.error = "Records rejected (nothing marked gone):\n" + "\n".join(ingest.errors)
    else:
        scope_run.status, scope_run.complete = RunStatus.SUCCEEDED, True
    for name in COUNT_FIELDS:
        setattr(scope_run, name, ingest.counts[name])
    scope_run.finished_at = clock.now()
    scope_run.save()

    scope.last_status, scope.last_run_at = scope_run.status, scope_run.finished_at
    if scope_run.complete:
        scope.last_success_at = scope_run.started_at
        if ingest.cursor is not None:
            scope.cursor = ingest.cursor
    scope.save(update_fields=["last_status", "last_run_at", "last_success_at", "cursor"])
    if on_scope:
        on_scope(scope_run)
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
    run.save()
    return run
