"""Prometheus metrics.

Two kinds, gathered in two ways so every process is counted without sharing memory:

- Collection runs, scopes and the Celery queue are read from the database and the broker when
  Prometheus scrapes. Runs happen in Celery workers (other processes, often other containers),
  so each finished run and scope adds to running totals in the database (CollectionTotal, in
  the transaction that records it): the one place that has seen them all, and one that
  retention never prunes, so the counters only ever grow.
- Request latency happens in the web process. Under gunicorn's several workers it is kept by
  prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, see config/gunicorn.py);
  without that variable (``manage.py up``, tests) the one process keeps it in memory.
"""

import logging
import os
import time

from django.conf import settings
from django.db import connection
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .health import broker_client
from .models import CollectionRun, CollectionTotal, RunStatus, Scope, ScopeRun

logger = logging.getLogger(__name__)

RUN_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)
# Kombu's Redis transport keeps a queue's prioritised messages in lists beside the plain one.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

REQUEST_DURATION = Histogram(
    "daylight_http_request_duration_seconds",
    "Time to answer a request, by Django view name (never the raw path).",
    ["view", "method", "status"],
    registry=None,  # gathered per scrape: from this process, or every worker's files
)


class RequestMetricsMiddleware:
    """Times every request that reaches Django (static files are answered before it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        REQUEST_DURATION.labels(
            view=match.view_name if match else "unmatched",
            method=request.method if request.method in METHODS else "other",
            status=str(response.status_code),
        ).observe(time.perf_counter() - started)
        return response


# --- totals, added to as runs finish --------------------------------------------------------

ASSET_CHANGES = ("seen", "new", "changed", "gone")
PROVIDER_WIDE = ("", "")  # (source, scope) of a total kept per provider only


def count_finished_run(run: CollectionRun) -> None:
    """Add a finished run (or a skipped one) to the totals; call it in the transaction that
    saves the run, so a run is counted exactly when it is recorded."""
    provider, source = run.source.provider, run.source.name
    amounts = {(provider, source, "", f"runs:{run.status}"): 1}
    if run.status != RunStatus.SKIPPED:
        wide = (provider, *PROVIDER_WIDE)
        seconds = run.duration.total_seconds()
        amounts |= {(*wide, f"assets:{change}"): getattr(run, change) for change in ASSET_CHANGES}
        amounts |= {(*wide, "duration:count"): 1, (*wide, "duration:sum"): seconds}
        amounts |= {(*wide, f"duration:le:{b}"): int(seconds <= b) for b in RUN_DURATION_BUCKETS}
    add_totals(amounts)


def count_finished_scope(scope_run: ScopeRun, provider: str, source: str) -> None:
    """Add a finished scope read (a failure, the API calls it counted) to the totals; call it in
    the transaction that saves the scope run."""
    amounts = {}
    if scope_run.status == RunStatus.FAILED:
        amounts[(provider, source, scope_run.scope.key, "scope_failures")] = 1
    if scope_run.api_calls is not None:
        amounts[(provider, *PROVIDER_WIDE, "api_calls")] = scope_run.api_calls
        amounts[(provider, *PROVIDER_WIDE, "api_throttled")] = scope_run.throttled or 0
    add_totals(amounts)


def add_totals(amounts: dict[tuple[str, str, str, str], float]) -> None:
    """Add ``amounts`` ({(provider, source, scope, measure): amount}) to the totals in one
    statement: an upsert PostgreSQL and SQLite both speak, so two workers finishing at once
    never lose an addition. Keys go in order, so concurrent runs lock shared rows alike."""
    if not amounts:
        return
    table = connection.ops.quote_name(CollectionTotal._meta.db_table)
    rows = sorted(amounts.items())
    placeholders = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (provider, source, scope, measure, value) VALUES {placeholders} "
            "ON CONFLICT (provider, source, scope, measure) "
            f"DO UPDATE SET value = {table}.value + excluded.value",
            [part for key, amount in rows for part in (*key, amount)],
        )


# --- the scrape ----------------------------------------------------------------------------


class CollectionMetrics:
    """A prometheus_client collector reading the collection totals and the scopes' last
    successes at scrape time. The totals only grow (see CollectionTotal), so the counters never
    fall when retention prunes the runs they counted."""

    def collect(self):
        totals = CollectionTotal.objects.values_list(
            "provider", "source", "scope", "measure", "value"
        )
        by_kind = {}
        for provider, source, scope, measure, value in totals:
            kind, _, detail = measure.partition(":")
            by_kind.setdefault(kind, []).append((provider, source, scope, detail, value))
        yield from self._runs(by_kind)
        yield self._durations(by_kind.get("duration", []))
        yield from self._scopes(by_kind)
        yield from self._queue()

    def _runs(self, by_kind):
        runs = CounterMetricFamily(
            "daylight_collection_runs",
            "Finished collection runs by outcome.",
            labels=["provider", "source", "status"],
        )
        assets = CounterMetricFamily(
            "daylight_collection_assets",
            "Assets seen, new, changed and gone over all collection runs.",
            labels=["provider", "change"],
        )
        for provider, source, _, status, value in by_kind.get("runs", []):
            runs.add_metric([provider, source, status], value)
        for provider, _, _, change, value in by_kind.get("assets", []):
            assets.add_metric([provider, change], value)
        yield runs
        yield assets

    def _durations(self, rows):
        family = HistogramMetricFamily(
            "daylight_collection_run_duration_seconds",
            "How long finished collection runs took.",
            labels=["provider"],
        )
        per_provider = {}
        for provider, _, _, detail, value in rows:
            per_provider.setdefault(provider, {})[detail] = value
        for provider, measures in sorted(per_provider.items()):
            buckets = [(str(float(b)), measures.get(f"le:{b}", 0)) for b in RUN_DURATION_BUCKETS]
            buckets.append(("+Inf", measures.get("count", 0)))
            family.add_metric([provider], buckets, measures.get("sum", 0.0))
        return family

    def _scopes(self, by_kind):
        failures = CounterMetricFamily(
            "daylight_collection_scope_failures",
            "Scope reads that failed (the scope's assets were left untouched).",
            labels=["provider", "source", "scope"],
        )
        calls = CounterMetricFamily(
            "daylight_collection_api_calls",
            "Provider API requests made by collections (every attempt).",
            labels=["provider"],
        )
        throttled = CounterMetricFamily(
            "daylight_collection_api_throttled",
            "Provider API requests answered with throttling (then retried with backoff).",
            labels=["provider"],
        )
        last_success = GaugeMetricFamily(
            "daylight_scope_last_success_timestamp_seconds",
            "When each scope was last read completely (absent if never).",
            labels=["provider", "source", "scope"],
        )
        for provider, source, scope, _, value in by_kind.get("scope_failures", []):
            failures.add_metric([provider, source, scope], value)
        for provider, _, _, _, value in by_kind.get("api_calls", []):
            calls.add_metric([provider], value)
        for provider, _, _, _, value in by_kind.get("api_throttled", []):
            throttled.add_metric([provider], value)
        for provider, source, key, at in Scope.objects.filter(
            last_success_at__isnull=False
        ).values_list("source__provider", "source__name", "key", "last_success_at"):
            last_success.add_metric([provider, source, key], at.timestamp())
        yield from (failures, calls, throttled, last_success)

    def _queue(self):
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return  # no broker (tasks run in-process), or one whose queues this does not read
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        family = GaugeMetricFamily(
            "daylight_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"]
        )
        try:
            client = broker_client(url)
            with client.pipeline(transaction=False) as pipe:
                for suffix in PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
                family.add_metric([queue], sum(pipe.execute()))
        except Exception as exc:  # the broker being down must not break the whole scrape
            logger.warning("metrics: cannot read the queue length: %s", type(exc).__name__)
            return
        yield family


def render() -> bytes:
    """Every metric in Prometheus' text format, gathered now."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_DURATION)
    registry.register(CollectionMetrics())
    return generate_latest(registry)
