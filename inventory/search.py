"""Free-text search over assets: the name or the key contains the text, ignoring case. One
predicate for the dashboard's explorer and queue, their CSV export and the API's ``?q=``.

On PostgreSQL the trigram index over name and key (``asset_text_trgm``) finds the matches, and
how the page then finds its rows depends on how many there are. Written as a plain filter, the
planner may walk an index in the page's order (by name, say) testing every row until a page is
full: it guesses how many assets match from statistics that know nothing of where in that
order they are, and when the matches are fewer than it guessed, or all late in the order, it
reads most of a million rows (seconds). Finding every match first instead costs what the
matches number: ~8 µs each, so a word in 400,000 keys takes seconds where a walk finds a
page among its first rows.

So the matches are counted first, among the listing's own filters, no further than
``FEW_MATCHES`` + 1 (a bitmap scan of the trigram index, ANDed with any other index a filter
can use, that stops once it has that many rows: ~10-30 ms at 1,000,000 assets). If they are
few, the query filters by their ids — fetched by primary key and sorted, whatever the order:
exact and fast. If there are more, the plain filter, and the caller is told so: the
dashboard's pages then walk the index of their order a bounded distance and, when that meets
fewer than a page of matches, read every match, fenced off from the order
(``dashboard.paging.keyset_page``), so a page costs at most a short walk plus reading the
matches, wherever they are (bench/README.md). Both ways give the same rows in the same order.
Lists of ids much longer than ``FEW_MATCHES`` are no answer: 50,000 took the planner over a
minute.
Elsewhere (SQLite) the plain filter is all there is.
"""

from django.db import connection
from django.db.models import F, Q
from django.db.models.lookups import IContains

from .models.assets import NAME_AND_KEY
from .sql import AmongIds

# Above this many matches the page walks its order, then reads them all (dashboard.paging);
# at or below, their ids are read at once. As many as the pages count before they say "more".
FEW_MATCHES = 1_000


def text_matches(text: str) -> Q:
    """Name or key contains ``text``, ignoring case, as the plain condition."""
    # The index holds name and key joined by a space; the exact test of either column keeps
    # a text spanning the two (the end of a name, a space, the start of its key) from matching.
    return Q(IContains(NAME_AND_KEY, text)) & (Q(name__icontains=text) | Q(key__icontains=text))


def containing(queryset, text: str) -> tuple:
    """(``queryset`` narrowed to assets whose name or key contains ``text``, ignoring case;
    how many match, counted no further than ``FEW_MATCHES`` + 1, or None where they were not
    counted). Few are filtered by their ids, many by the plain condition (see above). The
    matches are looked up among ``queryset``'s rows, so its other filters narrow the lookup
    too. Apply it after the other filters; it costs one query on PostgreSQL, made now."""
    if connection.vendor != "postgresql":
        return queryset.filter(text_matches(text)), None
    ids = _some_ids(queryset.filter(text_matches(text)), FEW_MATCHES + 1)
    if len(ids) > FEW_MATCHES:
        return queryset.filter(text_matches(text)), len(ids)
    return queryset.filter(AmongIds(F("pk"), ids)), len(ids)


def _some_ids(queryset, limit: int) -> list[int]:
    """Up to ``limit`` ids of ``queryset``'s rows, found as if every one were wanted. Told
    that only the first few are, the planner bets on meeting them early along some index
    or a sequential scan, and loses when the other filters rule the text out: for ``aws``
    among GCP assets (none) it read all 200,000 of them, 0.5 s at a million assets. A
    materialized CTE is planned for all its rows: the trigram index and the other filters'
    indexes are read together (BitmapAnd, 26 ms), and the heap only until ``limit`` rows."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH matching AS MATERIALIZED ({sql}) SELECT * FROM matching LIMIT %s",
            (*params, limit),
        )
        return [pk for (pk,) in cursor.fetchall()]


def name_or_key_contains(queryset, text: str):
    """``queryset`` narrowed to assets whose name or key contains ``text`` (see ``containing``)."""
    return containing(queryset, text)[0]
