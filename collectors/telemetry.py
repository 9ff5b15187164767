"""Counts of provider API requests made while reading one scope.

The runner opens a count per scope; a provider's HTTP hook adds to whatever count is open in its
context. Worker threads of a collector share their scope's count when they run in a copy of the
caller's context (``contextvars.copy_context()``), which is how collectors start them.

Each provider hooks its own client library where every HTTP attempt passes (retries included):
AWS botocore's ``needs-retry`` event (collectors/aws/session.py), Kubernetes urllib3's
connections (collectors/kubernetes/api.py), Docker the SDK's requests session
(collectors/docker/api.py), Google the requests sessions under the REST transports
(collectors/gcp/clients.py), Azure a pipeline policy run on every retry
(collectors/azure/clients.py). Requests for credentials (tokens) are not counted.
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


TOO_MANY_REQUESTS = 429


def count_status(status: int) -> None:
    """Count an answer as throttled when it is HTTP 429 (Too Many Requests), the status every
    provider but AWS throttles with."""
    if status == TOO_MANY_REQUESTS:
        count_throttle()


def count_response(response, *args, **kwargs):
    """A ``requests`` response hook: one request answered, throttled if 429."""
    count_call()
    count_status(response.status_code)
