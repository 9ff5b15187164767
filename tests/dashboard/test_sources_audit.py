"""Sources and runs (schedules, last runs, history, per-scope errors, "Run now" for admins) and
the audit log (filterable, read-only)."""

import base64
import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from inventory import services
from inventory.models import Asset, AuditLog, CollectionRun, Source
from inventory.schedules import describe_cron
from inventory.selectors import next_run
from tests.conftest import NOW, make_user

from .helpers import (
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    PAGE_BUDGET,
    ingest_hostile_asset,
    page_of,
    queries_for,
)

pytestmark = pytest.mark.django_db
SOURCES, AUDIT = "/sources/", "/audit/"


# --- schedules ------------------------------------------------------------------------------

AT = datetime(2026, 11, 4, 10, 17, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 * * * *", datetime(2026, 11, 4, 11, 0, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 11, 4, 10, 30, tzinfo=UTC)),
        ("17 10 * * *", datetime(2026, 11, 5, 10, 17, tzinfo=UTC)),  # this minute has begun
        ("30 2 * * 1", datetime(2026, 11, 9, 2, 30, tzinfo=UTC)),  # Mondays
        ("0 0 1 1 *", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("0 0 31 2 *", None),  # never
        ("every hour", None),
    ],
)
def test_next_run_reads_cron_as_beat_does(expression, expected):
    assert next_run(expression, AT) == expected


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 6 1 1,4,7,10 *", "Quarterly, on the 1st of Jan/Apr/Jul/Oct at 06:00 UTC"),
        ("30 2 15 3,6,9,12 *", "Quarterly, on the 15th of Mar/Jun/Sep/Dec at 02:30 UTC"),
        ("0 6 1 * *", "Monthly on the 1st at 06:00 UTC"),
        ("0 6 22 * *", "Monthly on the 22nd at 06:00 UTC"),
        ("0 6 12 * *", "Monthly on the 12th at 06:00 UTC"),
        ("0 0 1 1 *", "Yearly, on the 1st of Jan at 00:00 UTC"),
        ("0 6 * * 1", "Weekly on Monday at 06:00 UTC"),
        ("0 6 * * 0", "Weekly on Sunday at 06:00 UTC"),
        ("0 7 * * mon", "Weekly on Monday at 07:00 UTC"),
        ("0 6 * * 5,1,3", "Weekly on Monday, Wednesday and Friday at 06:00 UTC"),
        ("0 18 * * 1-5", "Weekdays at 18:00 UTC"),
        ("0 6 * * *", "Daily at 06:00 UTC"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("*/1 * * * *", "Every minute"),
        ("* * * * *", "Every minute"),
        ("5 * * * *", "Hourly at :05"),
    ],
)
def test_common_schedules_read_in_words(expression, words):
    assert describe_cron(expression) == words


@pytest.mark.parametrize(
    "expression",
    [
        "*/7 * * * *",  # restarts at :00, so the gaps are not all 7 minutes
        "0 */6 * * *",
        "0,30 6 * * *",
        "0 6 1 1,6 *",
        "0 6 1 * 1",  # day of month and weekday both restricted
        "0 6 1-7 * *",
        "*/15 9-17 * * *",
        "every hour",
        "",
    ],
)
def test_any_other_schedule_has_no_words(expression):
    assert describe_cron(expression) is None


# --- sources and runs -----------------------------------------------------------------------


def test_sources_page_shows_schedules_last_runs_and_failing_scopes(client, viewer, estate):
    estate("prod", {"acct-a": 3, "acct-b": 2}, at=NOW - timedelta(days=1))
    estate("prod", {"acct-a": 3, "acct-b": 2}, release=2, fail=["acct-b"])
    Source.objects.create(name="idle", provider="demo", schedule="30 2 * * 1", enabled=False)
    client.force_login(viewer)
    page = page_of(client.get(SOURCES))

    row = page.split('data-source="prod"')[1].split("</tr>")[0]
    assert "Partially failed" in row and "AccessDenied (simulated)" in row
    assert "2 of 2 collected" in row and "1 failing" in row
    live = Asset.objects.filter(source__name="prod", gone_at__isnull=True).count()
    assert f'<a class="figure" href="/assets/?source=prod">{live}</a>' in row
    assert "next <time" in row  # enabled, scheduled hourly
    assert '<span title="cron: 0 * * * *">Hourly at :00</span>' in row
    idle = page.split('data-source="idle"')[1].split("</tr>")[0]
    assert "disabled" in idle and "not scheduled" in idle and "Never run" in idle
    assert "Run now" not in page  # viewers see no controls
    history = page.split('data-testid="runs"')[1].split("</table>")[0]
    assert history.count("<tr data-run=") == 2


def test_run_history_filters_by_status_and_pages_newest_first(client, viewer, estate):
    for day in range(30):
        estate(
            "prod",
            {"acct-a": 1},
            at=NOW - timedelta(days=30 - day),
            fail=["acct-a"] * (day % 3 == 0),
        )
    client.force_login(viewer)
    page = page_of(client.get(SOURCES))
    shown = [int(pk) for pk in re.findall(r'<tr data-run="(\d+)"', page)]
    newest = list(CollectionRun.objects.order_by("-started_at", "-id").values_list("id", flat=True))
    assert shown == newest[:25]
    after = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', page).group(1))
    assert [
        int(pk) for pk in re.findall(r'<tr data-run="(\d+)"', page_of(client.get(SOURCES + after)))
    ] == newest[25:]
    failed = page_of(client.get(SOURCES + "?status=failed"))
    assert (
        len(re.findall(r'<tr data-run="', failed))
        == CollectionRun.objects.filter(status="failed").count()
        == 10
    )


def test_source_and_run_pages_show_each_scope_and_its_error(client, viewer, estate):
    run = estate("prod", {"acct-a": 2, "acct-b": 2}, fail=["acct-b"])
    client.force_login(viewer)
    source = page_of(client.get(reverse("dashboard:source", args=["prod"])))
    scope_row = source.split('data-scope="acct-b"')[1].split("</tr>")[0]
    assert "AccessDenied (simulated)" in scope_row and "Not collected" in scope_row
    assert '"scopes": {' in html.unescape(source)  # the configuration, as JSON
    detail = page_of(client.get(reverse("dashboard:run", args=[run.pk])))
    failed = detail.split('data-scope="acct-b"')[1].split("</tr>")[0]
    assert "estate:List acct-b" in failed and "no</strong>" in failed  # not read in full
    ok = detail.split('data-scope="acct-a"')[1].split("</tr>")[0]
    assert "Succeeded" in ok and ">3</td>" in ok  # a cluster and two functions seen
    assert client.get(reverse("dashboard:run", args=[run.pk + 999])).status_code == 404
    assert client.get(reverse("dashboard:source", args=["nope"])).status_code == 404


def test_collector_errors_are_shown_as_text(client, viewer, source):
    CollectionRun.objects.create(
        source=source, status="failed", started_at=NOW, finished_at=NOW, error=HOSTILE_SCRIPT
    )
    client.force_login(viewer)
    for url in (SOURCES, reverse("dashboard:source", args=[source.name])):
        page = page_of(client.get(url))
        assert "<script>alert" not in page and html.escape(HOSTILE_SCRIPT) in page


def _queued_runs_of(source):
    """Collect tasks for ``source`` waiting in the Redis broker (when there is one)."""
    import redis

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    found = []
    for raw in broker.lrange("celery", 0, -1):
        message = json.loads(raw)
        is_collect = message["headers"].get("task") == "daylight.collect_source"
        if is_collect and json.loads(base64.b64decode(message["body"]))[0] == [source.pk, "manual"]:
            found.append(raw)
    return broker, found


def test_admins_run_a_source_now(client, admin_user, source):
    client.force_login(admin_user)
    page = page_of(client.get(reverse("dashboard:source", args=[source.name])))
    assert reverse("dashboard:run-now", args=[source.name]) in page
    response = client.post(reverse("dashboard:run-now", args=[source.name]), follow=True)
    page = page_of(response)
    if settings.CELERY_TASK_ALWAYS_EAGER:  # embedded: it ran in this request
        run = CollectionRun.objects.get(source=source)
        assert (run.trigger, run.status) == ("manual", "succeeded")
        assert f"Collected {source.name} now" in page
        assert f'<tr data-run="{run.pk}">' in page
    else:
        broker, queued = _queued_runs_of(source)
        assert len(queued) == 1
        broker.lrem("celery", 1, queued[0])
        assert f"Queued a collection of {source.name}" in page


@pytest.mark.parametrize("role", ["viewer", "reconciler"])
def test_only_admins_may_run_a_source(client, source, role):
    client.force_login(make_user(f"a-{role}", role))
    response = client.post(reverse("dashboard:run-now", args=[source.name]))
    assert response.status_code == 403
    assert not CollectionRun.objects.exists()
    assert "Run now" not in page_of(client.get(SOURCES))


def test_a_disabled_source_is_not_run(client, admin_user, source):
    Source.objects.filter(pk=source.pk).update(enabled=False)
    client.force_login(admin_user)
    page = page_of(client.post(reverse("dashboard:run-now", args=[source.name]), follow=True))
    assert "disabled: enable it to collect" in page
    assert not CollectionRun.objects.exists()


def test_sources_page_queries_do_not_grow_with_runs_and_scopes(
    client, viewer, estate, django_assert_max_num_queries
):
    client.force_login(viewer)
    estate("one", {"acct-a": 1})
    small = max(queries_for(client, SOURCES), queries_for(client, "/sources/one/"))
    assert small <= PAGE_BUDGET
    for day in range(5):
        for name in ("one", "two", "three"):
            estate(name, {f"{name}-{n}": 2 for n in range(4)}, at=NOW - timedelta(days=day))
    for url in (
        SOURCES,
        "/sources/one/",
        reverse("dashboard:run", args=[CollectionRun.objects.latest("id").pk]),
    ):
        with django_assert_max_num_queries(small):
            page_of(client.get(url))


# --- audit log ------------------------------------------------------------------------------


@pytest.fixture
def decided(estate, payments, reconciler, admin_user):
    """Decisions by two people: an assignment, an accepted risk, and a team changed."""
    estate("prod", {"acct-a": 6})
    one, three, five = (Asset.objects.get(key=f"fn://acct-a/{n}") for n in (1, 3, 5))
    services.assign_owner([one], payments, reconciler, reason="their lambda")
    services.accept_risk([three, five], reconciler, "lab only", expires_at=NOW + timedelta(days=9))
    payments.contact = "#payments-oncall"
    services.save_config(payments, admin_user)
    return one, three, five


def entries(page: str) -> list[str]:
    return re.findall(r'data-action="([^"]+)"', page)


def test_the_audit_log_says_who_did_what_on_which_object(client, viewer, decided):
    one, _, _ = decided
    client.force_login(viewer)
    page = page_of(client.get(AUDIT))
    assert entries(page) == [
        "team.update",
        "asset.accept_risk",
        "asset.accept_risk",
        "asset.assign",
    ]
    assign = page.split('data-action="asset.assign"')[1].split("</tr>")[0]
    assert "itstaff" in assign and "Assigned to a team" in assign
    assert f'<a href="/assets/{one.pk}/">{one.name}</a>' in assign
    assert "Payments" in assign and "their lambda" in assign
    team = page.split('data-action="team.update"')[1].split("</tr>")[0]
    assert "ops" in team and "#payments-oncall" in team and 'class="old"' in team
    assert "contact" in team and "slug" not in team  # only what changed


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=ops", ["team.update"]),
        ("action=asset.accept_risk", ["asset.accept_risk", "asset.accept_risk"]),
        ("action=asset.", ["asset.accept_risk", "asset.accept_risk", "asset.assign"]),
        ("object_type=team", ["team.update"]),
        ("q=fn-0001", ["asset.assign"]),
        ("until=2000-01-01", []),
        ("since=2000-01-01&actor=itstaff&action=asset.assign", ["asset.assign"]),
    ],
)
def test_the_audit_log_filters(client, viewer, decided, query, expected):
    client.force_login(viewer)
    assert entries(page_of(client.get(f"{AUDIT}?{query}"))) == expected


def test_one_objects_history_by_its_id(client, viewer, decided):
    _, three, _ = decided
    client.force_login(viewer)
    page = page_of(client.get(f"{AUDIT}?object_type=asset&object_id={three.pk}"))
    assert entries(page) == ["asset.accept_risk"]


@pytest.mark.parametrize("url", [AUDIT, "/", "/assets/", "/reconcile/", "/sources/", "/teams/"])
def test_reading_pages_refuse_writes(client, admin_user, url):
    client.force_login(admin_user)
    assert client.post(url, {"action": "x"}).status_code == 405


def test_the_audit_log_is_read_only(client, admin_user, decided):
    client.force_login(admin_user)
    assert AuditLog.objects.count() == 4
    assert '<form method="post"' not in page_of(client.get(AUDIT)).split("<main")[1]


def test_hostile_names_in_the_audit_log_are_text(client, reconciler, scope_run, payments):
    hostile = ingest_hostile_asset(scope_run)
    services.assign_owner([hostile], payments, reconciler, reason=HOSTILE_IMG)
    client.force_login(reconciler)
    page = page_of(client.get(AUDIT))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(HOSTILE_SCRIPT) in page and html.escape(HOSTILE_IMG) in page


def test_audit_pages_and_queries_do_not_grow(
    client, viewer, estate, payments, reconciler, django_assert_max_num_queries
):
    estate("prod", {"acct-a": 2})
    client.force_login(viewer)
    small = queries_for(client, AUDIT)
    assert small <= PAGE_BUDGET
    target = Asset.objects.get(key="fn://acct-a/1")
    for _ in range(60):
        services.assign_owner([target], payments, reconciler)
    with django_assert_max_num_queries(small):
        page = page_of(client.get(AUDIT))
    assert len(entries(page)) == 50
    after = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', page).group(1))
    assert len(entries(page_of(client.get(AUDIT + after)))) == 10
