"""/metrics: protected by a bearer token; collection runs read from the database at scrape time,
request latency by view name, and the Celery queue's length from the real Redis broker."""

import re
import threading
import uuid
from datetime import timedelta

import pytest
import redis
from django.db import connection, transaction
from django.utils import timezone

from collectors.runner import run_source
from inventory import metrics, retention
from inventory.models import CollectionRun, CollectionTotal, RunStatus, Scope, ScopeRun, Source
from tests.config.test_health import closed_port

TOKEN = "metrics-test-token-0123456789"
LOCAL_REDIS = "redis://127.0.0.1:6379/4"
FAILING = "gcp/acme-prod"  # a scope of the demo estate


@pytest.fixture
def scrape(client, settings):
    settings.DAYLIGHT_METRICS_TOKEN = TOKEN

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return response.content.decode()

    return get


def value(text: str, name: str, **labels) -> float | None:
    """The sample ``name`` whose labels include ``labels``, or None."""
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(k) == str(v) for k, v in labels.items()):
            return float(match.group(3))
    return None


def test_metrics_are_off_without_a_token(client, db, settings):
    settings.DAYLIGHT_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("header", ["", "Bearer wrong", f"Token {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_refuse_a_missing_or_wrong_token(client, db, settings, header):
    settings.DAYLIGHT_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"daylight_" not in response.content


def test_a_signed_in_session_is_not_enough(client, admin_user, settings):
    settings.DAYLIGHT_METRICS_TOKEN = TOKEN
    client.force_login(admin_user)
    assert client.get("/metrics").status_code == 401


def test_collection_runs_are_counted_as_they_finish(scrape, source):
    first = run_source(source)
    second = run_source(source)
    assert first.status == second.status == RunStatus.SUCCEEDED
    broken = Source.objects.create(
        name="broken", provider="demo", config={"seed": 1, "fail_scopes": [FAILING]}
    )
    partly = run_source(broken)
    assert partly.status == RunStatus.PARTIAL
    # A run that took 700 s, counted the way the runner counts every run it finishes.
    slow = CollectionRun.objects.create(
        source=source,
        status=RunStatus.FAILED,
        started_at=first.started_at,
        finished_at=first.started_at + timedelta(seconds=700),
    )
    metrics.count_finished_run(slow)

    text = scrape()
    labels = {"provider": "demo", "source": "test-source"}
    assert value(text, "daylight_collection_runs_total", status="succeeded", **labels) == 2
    assert value(text, "daylight_collection_runs_total", status="failed", **labels) == 1
    assert value(text, "daylight_collection_runs_total", source="broken", status="partial") == 1
    assert value(text, "daylight_collection_assets_total", provider="demo", change="seen") == (
        first.seen + second.seen + partly.seen
    )
    assert value(text, "daylight_collection_assets_total", provider="demo", change="new") == (
        first.new + partly.new
    )
    assert (
        value(text, "daylight_collection_scope_failures_total", source="broken", scope=FAILING) == 1
    )
    assert value(text, "daylight_collection_scope_failures_total", **labels) is None
    assert value(text, "daylight_collection_run_duration_seconds_count", provider="demo") == 4
    # The 700 s run is above the 600 s bucket and inside the 1200 s one.
    assert value(text, "daylight_collection_run_duration_seconds_bucket", le="600.0") == 3
    assert value(text, "daylight_collection_run_duration_seconds_bucket", le="1200.0") == 4
    assert value(text, "daylight_collection_run_duration_seconds_bucket", le="+Inf") == 4
    assert value(text, "daylight_collection_run_duration_seconds_sum", provider="demo") >= 700
    last = Scope.objects.filter(source=source, last_success_at__isnull=False).first()
    assert value(
        text, "daylight_scope_last_success_timestamp_seconds", scope=last.key, **labels
    ) == pytest.approx(last.last_success_at.timestamp())
    # The demo collector makes no API calls, so it reports none rather than zero.
    assert value(text, "daylight_collection_api_calls_total", provider="demo") is None


def collection_samples(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith("daylight_collection_"))


def test_pruning_old_runs_leaves_the_counters_unchanged(scrape, source):
    run_source(source)
    run_source(
        Source.objects.create(name="broken", provider="demo", config={"fail_scopes": [FAILING]})
    )
    before = collection_samples(scrape())
    assert len(before) > 20

    CollectionRun.objects.update(started_at=timezone.now() - timedelta(days=400))
    assert retention.prune()["runs"] == 2
    assert not CollectionRun.objects.exists() and not ScopeRun.objects.exists()

    assert collection_samples(scrape()) == before
    run_source(source)
    after = scrape()
    assert value(after, "daylight_collection_runs_total", source="test-source") == 2


@pytest.mark.django_db(transaction=True)
def test_runs_finishing_at_once_lose_no_addition():
    if connection.vendor != "postgresql":
        pytest.skip("the embedded SQLite database takes one writer at a time")
    key = ("aws", "prod", "", "runs:succeeded")

    def finish_runs():
        try:
            for _ in range(25):
                with transaction.atomic():
                    metrics.add_totals({key: 1, ("aws", "", "", "assets:seen"): 3})
        finally:
            connection.close()

    threads = [threading.Thread(target=finish_runs) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CollectionTotal.objects.get(measure="runs:succeeded").value == 150
    assert CollectionTotal.objects.get(measure="assets:seen").value == 450


def test_request_latency_is_labelled_by_view_name_not_path(client, scrape, viewer):
    client.force_login(viewer)
    marker = uuid.uuid4().hex
    assert client.get(f"/assets/?q={marker}").status_code == 200
    assert client.get(f"/no-such-page-{marker}/").status_code == 404
    text = scrape()
    assert (
        value(
            text,
            "daylight_http_request_duration_seconds_count",
            view="dashboard:assets",
            method="GET",
            status="200",
        )
        >= 1
    )
    assert (
        value(text, "daylight_http_request_duration_seconds_count", view="unmatched", status="404")
        >= 1
    )
    assert marker not in text


@pytest.fixture
def broker(settings):
    url = settings.CELERY_BROKER_URL or LOCAL_REDIS
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis answers at {url}: {exc}")
    settings.CELERY_BROKER_URL = url
    # A queue of this test's own, so a worker or another test never shares it.
    settings.CELERY_TASK_DEFAULT_QUEUE = f"daylight-test-{uuid.uuid4().hex}"
    yield client, settings.CELERY_TASK_DEFAULT_QUEUE
    client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)


def test_queue_length_is_read_from_the_broker(db, scrape, broker):
    client, queue = broker
    assert value(scrape(), "daylight_celery_queue_length", queue=queue) == 0
    client.lpush(queue, "a", "b", "c")
    assert value(scrape(), "daylight_celery_queue_length", queue=queue) == 3


def test_an_unreachable_broker_leaves_the_rest_of_the_scrape(db, scrape, settings, source):
    run_source(source)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/4"
    text = scrape()
    assert "daylight_celery_queue_length" not in text
    assert value(text, "daylight_collection_runs_total", status="succeeded") == 1


def test_no_broker_means_no_queue_metric(db, scrape, settings):
    settings.CELERY_BROKER_URL = ""
    assert "daylight_celery_queue_length" not in scrape()


def test_metrics_survive_an_empty_database(db, scrape):
    text = scrape()
    assert "# TYPE daylight_collection_runs_total counter" in text
    assert value(text, "daylight_collection_runs_total") is None
