"""Daylight's log lines: one JSON object per line (``DAYLIGHT_LOG_FORMAT=json``) or plain text.

Inside a collection the runner sets the run id, source, provider and scope in a context that
every line written meanwhile carries, in whichever thread writes it (collectors copy the context
into their worker threads). Handlers format in the thread that logs, so the context is the
caller's.
"""

import json
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_fields: ContextVar[dict] = ContextVar("daylight_log_fields", default={})  # noqa: B039 (never mutated)
STANDARD = ("time", "level", "logger", "message")


@contextmanager
def log_context(**fields):
    """Add ``fields`` to every log line written inside the block (nested blocks add up)."""
    reset = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(reset)


def current_fields() -> dict:
    return dict(_fields.get())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context's
    fields, and the traceback when there is one."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in current_fields().items() if k not in STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain format, with the context's fields appended as ``key=value``."""

    def format(self, record):
        line = super().format(record)
        if fields := current_fields():
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line
