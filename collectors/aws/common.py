"""Small helpers the AWS service modules share: times, tags, ARNs, bounded concurrency."""

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class ScopeContext:
    """What the service modules share while reading one account+region."""

    today: date
    workers: int = 1
    roles: Any = None  # iam.RoleJudge, shared by every scope of the collection
    creators: dict[str, str] = field(default_factory=dict)  # asset key -> who created it
    # What ECS found, so that task events can name their container: task ARN and task id ->
    # (task ARN, cluster ARN, group, container names); (cluster ARN, service name) -> its ARN.
    ecs_tasks: dict[str, tuple] = field(default_factory=dict)
    ecs_services: dict[tuple[str, str], str] = field(default_factory=dict)


# "2026-11-22T05:19:58.394+0000", "...394976000Z", "2026-11-22 05:20:29+00:00"
_ISO_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(value) -> datetime | None:
    """A timezone-aware datetime from what AWS returns (datetime, epoch seconds, ISO text)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    match = _ISO_TIME.match(str(value).strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone in (None, "Z") else zone
    if len(zone) == 5:  # +0000
        zone = f"{zone[:3]}:{zone[3:]}"
    return datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}").astimezone(UTC)


def iso(value) -> str | None:
    when = parse_time(value)
    return when.isoformat() if when else None


def labels_from_tags(tags) -> dict[str, str]:
    """Tags as labels, whichever of AWS's shapes they come in: a mapping, or a list of
    ``{"key"/"Key": …, "value"/"Value": …}``."""
    if not tags:
        return {}
    if isinstance(tags, dict):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    labels = {}
    for tag in tags:
        key = tag.get("key", tag.get("Key"))
        if key is not None:
            value = tag.get("value", tag.get("Value"))
            labels[str(key)] = "" if value is None else str(value)
    return labels


def arn_resource(arn: str) -> str:
    """The resource part of an ARN ("function:name", "cluster/prod"), or "" for a non-ARN."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 and parts[0] == "arn" else ""


def arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def last_segment(value: str) -> str:
    """ "prod" for "arn:aws:ecs:…:cluster/prod" or for "prod"."""
    return value.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if value else ""


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ordered_map(
    work: Callable[[Item], Result], items: Iterable[Item], workers: int
) -> Iterator[tuple[Item, Result]]:
    """``(item, work(item))`` in the order of ``items``, with up to ``workers`` calls in flight.

    The per-resource detail calls (tags, policies, URLs) are independent network round trips;
    running a few at once cuts a region's collection time several-fold while results still
    stream in order, so the caller never holds more than ``2 * workers`` of them. The first
    failure is raised when its turn comes, and the calls not yet started are cancelled.
    """
    if workers <= 1:
        for item in items:
            yield item, work(item)
        return
    window = 2 * workers
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="daylight-aws")
    pending: deque = deque()
    try:
        for item in items:
            # In a copy of this context: the scope's API call count and log fields go along.
            pending.append((item, pool.submit(copy_context().run, work, item)))
            if len(pending) >= window:
                done_item, future = pending.popleft()
                yield done_item, future.result()
        while pending:
            done_item, future = pending.popleft()
            yield done_item, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
