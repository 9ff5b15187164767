"""``manage.py collect``: synchronous collections with progress and an honest exit code."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collectors.demo import build_estate
from collectors.runner import run_source
from inventory import locks
from inventory.models import Asset, CollectionRun, RunStatus, RunTrigger, Scope, Source
from inventory.roles import VIEWER
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

FAILING = "docker/lab-gpu-02.corp.example"
EPOCH = date.today() - timedelta(days=30)
SCOPES = list(build_estate(5, 1, EPOCH))


def demo_source(name, *, enabled=True, **config):
    config = {"seed": 5, "scale": 1, "epoch": EPOCH.isoformat(), **config}
    return Source.objects.create(name=name, provider="demo", config=config, enabled=enabled)


def collect(*args) -> str:
    out = StringIO()
    call_command("collect", *args, stdout=out)
    return out.getvalue()


def scope_keys(source):
    return list(Scope.objects.filter(source=source).values_list("key", flat=True))


def test_collects_every_enabled_source_with_a_line_per_scope():
    first, second = demo_source("first"), demo_source("second", seed=6)
    demo_source("disabled", enabled=False)

    output = collect()

    runs = CollectionRun.objects.filter(trigger=RunTrigger.COMMAND)
    assert sorted(runs.values_list("source__name", flat=True)) == ["first", "second"]
    assert all(run.status == RunStatus.SUCCEEDED for run in runs)
    for scope_run in first.runs.get().scope_runs.select_related("scope"):
        line = next(ln for ln in output.splitlines() if ln.strip().startswith(scope_run.scope.key))
        assert "succeeded" in line
        assert f"seen {scope_run.seen} new {scope_run.new} changed 0 gone 0" in line
    summary = output.split("\n\n")[-1]
    header, *rows = summary.strip().splitlines()
    assert header.split() == [
        "source", "status", "scopes", "ok", "scopes", "failed",
        "seen", "new", "changed", "gone", "events", "duration",
    ]  # fmt: skip
    scopes = len(scope_keys(first))
    run = first.runs.get()
    assert rows[0].split()[:9] == [
        "first", "succeeded", str(scopes), "0", str(run.seen), str(run.new), "0", "0",
        str(run.events),
    ]  # fmt: skip
    assert rows[1].split()[0] == "second" and len(rows) == 2
    assert Asset.objects.filter(source=second).exists()


def test_the_first_overview_after_a_collection_is_warm(client):
    """The command counts the estate-wide figures, as the collection task does: the next
    person to open the overview makes a warm view's queries, not the count's."""
    cache.clear()
    demo_source("first")
    collect()
    client.force_login(make_user("ciso", VIEWER))
    with CaptureQueriesContext(connection) as first:
        assert client.get("/").status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get("/").status_code == 200
    assert len(first) == len(second)
    assert not any("GROUP BY" in q["sql"] for q in first.captured_queries)


def test_a_failing_scope_fails_the_command_but_not_the_other_scopes():
    lab = demo_source("lab", fail_scopes=[FAILING])
    out = StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("collect", "--source", "lab", stdout=out)

    output = out.getvalue()
    assert "1 of 1 sources did not collect: lab (partial)" in str(caught.value)
    run = lab.runs.get()
    assert run.status == RunStatus.PARTIAL
    expected_ok = [key for key in SCOPES if key != FAILING]
    for key in expected_ok:
        assert Asset.objects.filter(scope__source=lab, scope__key=key).exists(), key
    assert not Asset.objects.filter(scope__key=FAILING).exists()
    failed_line = next(ln for ln in output.splitlines() if ln.strip().startswith(FAILING))
    assert "failed" in failed_line
    row = next(ln for ln in output.splitlines() if ln.startswith("lab "))
    assert row.split()[1:4] == ["partial", str(len(expected_ok)), "1"]
    assert "Not collected:" in output
    assert (
        f"lab {FAILING} (failed): CollectorError: demo:List {FAILING}: AccessDenied (simulated)"
        in output
    )


def test_a_failing_run_exits_with_status_one(capsys):
    demo_source("lab", fail_scopes=[FAILING])
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "collect", "--source", "lab"])
    assert exited.value.code == 1
    assert "CommandError: 1 of 1 sources did not collect: lab (partial)" in capsys.readouterr().err


def test_a_wholly_failed_source_is_named_with_its_error():
    demo_source("dark", fail_scopes=SCOPES)
    out = StringIO()
    with pytest.raises(CommandError, match=r"dark \(failed\)"):
        call_command("collect", "--source", "dark", stdout=out)
    assert not Asset.objects.exists()
    assert f"dark {FAILING} (failed)" in out.getvalue()


def test_named_sources_only_and_disabled_ones_too():
    demo_source("first")
    demo_source("off", enabled=False)

    collect("--source", "off", "--source", "off")

    assert list(CollectionRun.objects.values_list("source__name", flat=True)) == ["off"]


def test_unknown_source_lists_the_known_ones_and_runs_nothing():
    demo_source("first")
    demo_source("second")
    with pytest.raises(CommandError) as caught:
        collect("--source", "first", "--source", "nope")
    assert str(caught.value) == "Unknown source nope. Known sources: first, second"
    assert not CollectionRun.objects.exists()


def test_nothing_to_collect_is_not_an_error():
    assert "No enabled sources to collect." in collect()


def test_a_second_collection_of_an_unchanged_estate_changes_nothing():
    source = demo_source("steady")
    run_source(source, RunTrigger.COMMAND)
    output = collect("--source", "steady")
    row = next(ln for ln in output.splitlines() if ln.startswith("steady "))
    cells = row.split()
    assert cells[1] == "succeeded"
    assert cells[5:8] == ["0", "0", "0"]  # new, changed, gone


def test_a_source_being_collected_elsewhere_is_reported_as_skipped():
    busy = demo_source("busy")
    with locks.hold(f"source:{busy.pk}") as acquired:
        assert acquired
        output = collect("--source", "busy")
    assert busy.runs.get().status == RunStatus.SKIPPED
    row = next(ln for ln in output.splitlines() if ln.startswith("busy "))
    assert row.split()[1] == "skipped"
    assert "busy (skipped): Another collection of this source is still running." in output
