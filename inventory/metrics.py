"""Prometheus metrics.

Two kinds, gathered in two ways so every process is counted without sharing memory:

- Collection runs, scopes and the Celery queue are read from the database and the broker when
  Prometheus scrapes. Runs happen in Celery workers (other processes, often other containers);
  their outcome is already recorded in CollectionRun/ScopeRun rows, so the database is the one
  place that has seen them all.
- Request latency happens in the web process. Under gunicorn's several workers it is kept by
  prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, see config/gunicorn.py);
  without that variable (``manage.py up``, tests) the one process keeps it in memory.
"""

import logging
import os
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .health import broker_client
from .models import CollectionRun, RunStatus, Scope, ScopeRun

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


def _duration():
    return ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())


class CollectionMetrics:
    """A prometheus_client collector reading the recorded runs at scrape time. Counters are
    totals over the runs the database keeps; pruning old runs shows as a counter reset."""

    def collect(self):
        yield from self._runs()
        yield from self._durations()
        yield from self._scopes()
        yield from self._queue()

    def _runs(self):
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
        finished = CollectionRun.objects.exclude(status=RunStatus.RUNNING)
        for row in finished.values("source__provider", "source__name", "status").annotate(
            n=Count("id")
        ):
            runs.add_metric([row["source__provider"], row["source__name"], row["status"]], row["n"])
        totals = finished.values("source__provider").annotate(
            seen=Sum("seen"), new=Sum("new"), changed=Sum("changed"), gone=Sum("gone")
        )
        for row in totals:
            for change in ("seen", "new", "changed", "gone"):
                assets.add_metric([row["source__provider"], change], row[change] or 0)
        yield runs
        yield assets

    def _durations(self):
        family = HistogramMetricFamily(
            "daylight_collection_run_duration_seconds",
            "How long finished collection runs took.",
            labels=["provider"],
        )
        buckets = {
            f"le_{b}": Count("id", filter=Q(duration__lte=timedelta(seconds=b)))
            for b in RUN_DURATION_BUCKETS
        }
        rows = (
            CollectionRun.objects.filter(finished_at__isnull=False)
            .exclude(status__in=[RunStatus.RUNNING, RunStatus.SKIPPED])
            .annotate(duration=_duration())
            .values("source__provider")
            .annotate(n=Count("id"), total=Sum("duration"), **buckets)
        )
        for row in rows:
            cumulative = [(str(float(b)), row[f"le_{b}"]) for b in RUN_DURATION_BUCKETS]
            cumulative.append(("+Inf", row["n"]))
            total = row["total"].total_seconds() if row["total"] else 0.0
            family.add_metric([row["source__provider"]], cumulative, total)
        yield family

    def _scopes(self):
        failures = CounterMetricFamily(
            "daylight_collection_scope_failures",
            "Scope reads that failed (the scope's assets were left untouched).",
            labels=["provider", "source", "scope"],
        )
        calls = CounterMetricFamily(
            "daylight_collection_api_calls",
            "Provider API requests made by collections (providers that report them).",
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
        scope_labels = ("scope__source__provider", "scope__source__name", "scope__key")
        for row in (
            ScopeRun.objects.filter(status=RunStatus.FAILED)
            .values(*scope_labels)
            .annotate(n=Count("id"))
        ):
            failures.add_metric([row[label] for label in scope_labels], row["n"])
        for row in (
            ScopeRun.objects.filter(api_calls__isnull=False)
            .values("scope__source__provider")
            .annotate(calls=Sum("api_calls"), throttled=Sum("throttled"))
        ):
            calls.add_metric([row["scope__source__provider"]], row["calls"] or 0)
            throttled.add_metric([row["scope__source__provider"]], row["throttled"] or 0)
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
