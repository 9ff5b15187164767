"""Keyset pagination: a page is "the next N rows after this row in this order", never an offset.

Deep pages cost what the first page costs, because the database seeks to the last row shown
instead of counting past every row before it. The position travels in the URL as an opaque token
(the sort values of the row at the page's edge plus its id), so pages stay bookmarkable.
"""

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q
from django.utils.dateparse import parse_datetime

DEFAULT_SIZE = 50
COUNT_CAP = 1_000


@dataclass(frozen=True)
class SortKey:
    """One column of an ordering: ``field`` is a model field or an annotation that is never
    NULL (coalesce nullable columns first), of Python type ``type``; ``descending`` flips it."""

    field: str
    descending: bool = False
    type: type = str

    def reversed(self) -> "SortKey":
        return SortKey(self.field, not self.descending, self.type)

    def order_by(self):
        expression = F(self.field)
        return expression.desc() if self.descending else expression.asc()


@dataclass
class Page:
    """The rows of one page and the tokens that lead to its neighbours."""

    rows: list
    next_token: str = ""
    previous_token: str = ""

    @property
    def has_next(self) -> bool:
        return bool(self.next_token)

    @property
    def has_previous(self) -> bool:
        return bool(self.previous_token)


def _encode(values) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, keys: list[SortKey]) -> list | None:
    """The sort values in ``token``, or None when it is not a token of this ordering (an edited
    or stale URL simply starts again at the first page)."""
    if not token or len(token) > 4000:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    parsed = []
    for key, value in zip(keys, values, strict=True):
        if key.type is datetime:
            value = parse_datetime(value) if isinstance(value, str) else None
        elif type(value) is not key.type:  # exact: a bool is an int, an int is not a bool
            value = None
        if value is None:
            return None
        parsed.append(value)
    return parsed


def _beyond(keys: list[SortKey], values: list) -> Q:
    """Rows that come after ``values`` in the order ``keys``: (a > x) or (a = x and b > y) …,
    plus a redundant bound on the leading column so an index on it is used to seek."""
    condition = Q()
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        lookup = "lt" if key.descending else "gt"
        condition |= equal & Q(**{f"{key.field}__{lookup}": value})
        equal &= Q(**{key.field: value})
    first = keys[0]
    bound = Q(**{f"{first.field}__{'lte' if first.descending else 'gte'}": values[0]})
    return bound & condition


def keyset_page(queryset, keys: list[SortKey], *, after="", before="", size=DEFAULT_SIZE) -> Page:
    """The page of ``queryset`` in the order ``keys`` (the last key must be unique, e.g. id)
    that follows the row named by ``after``, or precedes the one named by ``before``."""
    after_values = decode_token(after, keys)
    before_values = None if after_values else decode_token(before, keys)
    if before_values is not None:
        backwards = [key.reversed() for key in keys]
        found = list(
            queryset.filter(_beyond(backwards, before_values)).order_by(
                *(k.order_by() for k in backwards)
            )[: size + 1]
        )
        more_before = len(found) > size
        rows = list(reversed(found[:size]))
        return Page(
            rows,
            next_token=_token_of(rows[-1], keys) if rows else before,
            previous_token=_token_of(rows[0], keys) if more_before and rows else "",
        )
    if after_values is not None:
        queryset = queryset.filter(_beyond(keys, after_values))
    found = list(queryset.order_by(*(k.order_by() for k in keys))[: size + 1])
    rows = found[:size]
    return Page(
        rows,
        next_token=_token_of(rows[-1], keys) if len(found) > size else "",
        previous_token=_token_of(rows[0], keys) if after_values is not None and rows else "",
    )


def _token_of(row, keys) -> str:
    return _encode([getattr(row, key.field) for key in keys])


def capped_count(queryset, cap=None) -> tuple[int, bool]:
    """How many rows match, counting no further than ``cap``: (count, True when there are more).
    An exact COUNT(*) over a million rows on every page view is what this avoids."""
    cap = cap or COUNT_CAP
    counted = queryset.order_by().values("pk")[: cap + 1].count()
    return min(counted, cap), counted > cap
