"""Structured logs: one JSON object per line, carrying the collection's ids inside a run."""

import io
import json
import logging
import threading
from contextvars import copy_context

import pytest

from collectors.runner import run_source
from config.logs import JsonFormatter, TextFormatter, log_context
from inventory.models import Scope


@pytest.fixture
def json_lines():
    """Everything logged (root logger, INFO and up) while the test runs, as parsed JSON objects."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_line_has_time_level_logger_and_message(json_lines):
    logging.getLogger("daylight.test").warning("hello %s", "world")
    (line,) = json_lines()
    assert line["level"] == "WARNING" and line["logger"] == "daylight.test"
    assert line["message"] == "hello world"
    assert line["time"].endswith("+00:00") and "T" in line["time"]


def test_exceptions_travel_inside_the_one_line(json_lines):
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("daylight.test").exception("failed")
    (line,) = json_lines()
    assert "ValueError: boom" in line["exception"]


def test_context_fields_nest_and_follow_copied_contexts_into_threads(json_lines):
    log = logging.getLogger("daylight.test")
    with log_context(run_id=7, source="aws-prod"):
        with log_context(scope_id=3):
            thread = threading.Thread(target=copy_context().run, args=(log.info, "in a thread"))
            thread.start()
            thread.join()
        log.info("after the scope")
    log.info("outside")
    inside, after, outside = json_lines()
    assert inside["message"] == "in a thread"
    assert (inside["run_id"], inside["source"], inside["scope_id"]) == (7, "aws-prod", 3)
    assert after["run_id"] == 7 and "scope_id" not in after
    assert "run_id" not in outside


def test_context_fields_never_replace_the_standard_ones(json_lines):
    with log_context(message="forged", level="DEBUG"):
        logging.getLogger("daylight.test").error("real")
    (line,) = json_lines()
    assert line["message"] == "real" and line["level"] == "ERROR"


def test_text_format_appends_the_fields():
    record = logging.LogRecord("daylight.test", logging.INFO, __file__, 1, "hi", (), None)
    with log_context(run_id=5, scope="acct/eu-west-1"):
        line = TextFormatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO hi run_id=5 scope=acct/eu-west-1"


def test_a_collection_runs_lines_carry_its_run_scope_source_and_provider(json_lines, source):
    run = run_source(source)
    lines = [line for line in json_lines() if line["logger"] == "collectors.runner"]
    assert lines, "the runner logs the run's start, each scope and the outcome"
    assert all(line["run_id"] == run.pk for line in lines)
    assert all(line["source"] == "test-source" and line["provider"] == "demo" for line in lines)
    scope_lines = [line for line in lines if "scope_id" in line]
    scope_ids = set(Scope.objects.filter(source=source).values_list("pk", flat=True))
    assert {line["scope_id"] for line in scope_lines} == scope_ids
    assert all(Scope.objects.get(pk=line["scope_id"]).key == line["scope"] for line in scope_lines)
    assert lines[-1]["message"].startswith("collection succeeded")
