"""Counts of provider API requests made while reading one scope.

The runner opens a count per scope; a provider's HTTP hook adds to whatever count is open in its
context. Worker threads of a collector share their scope's count when they run in a copy of the
caller's context (``contextvars.copy_context()``), which is how collectors start them.
"""

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class ApiCalls:
    """Requests sent and requests answered with throttling; ``reported`` stays False for a
    provider that has no hook, so "not counted" is never shown as zero."""

    calls: int = 0
    throttled: int = 0
    reported: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, calls=0, throttled=0):
        with self._lock:
            self.calls += calls
            self.throttled += throttled
            self.reported = True


_current: ContextVar[ApiCalls | None] = ContextVar("daylight_api_calls", default=None)


@contextmanager
def counting():
    counts = ApiCalls()
    reset = _current.set(counts)
    try:
        yield counts
    finally:
        _current.reset(reset)


def count_call():
    if (counts := _current.get()) is not None:
        counts.add(calls=1)


def count_throttle():
    if (counts := _current.get()) is not None:
        counts.add(throttled=1)
