"""Free-text search over assets: the name or the key contains the text, ignoring case. One
predicate for the dashboard's explorer and queue, their CSV export and the API's ``?q=``.

On PostgreSQL the matches are found first, all of them, by the trigram index over name and key
(``asset_text_trgm``), and only then sorted and paged. Written as a plain filter, the planner
may instead walk an index in the page's order (by name, say) testing every row until a page is
full: it guesses how many assets match from statistics that know nothing of where in that
order they are, and when they are fewer than it guessed, or all late in the order, it reads
most of a million rows (seconds, where finding the matches first takes tens of milliseconds).
So the matching ids are computed apart, as ``id = ANY(ARRAY(SELECT id …))``: an array
subquery runs once and whole before the query around it (an InitPlan), and is never turned
into a join that an ordered walk could drive. Not knowing the array's length, the planner
takes it for a handful of ids, which it fetches by primary key and sorts rather than walk a
large table for them. The price: a common word (tens of thousands of matches) pays for
reading all its matches where a walk would have found a page among the first rows.
"""

from django.db.models import BooleanField, F, Func, Q, Subquery

from .models import Asset
from .models.assets import NAME_AND_KEY


class AmongIds(Func):
    """True for rows whose ``column`` is one of the ids the ``ids`` subquery selects: an array
    built first on PostgreSQL (see above), ``IN`` elsewhere."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, template="%(column)s IN %(ids)s"):
        column, ids = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        ids_sql, ids_params = compiler.compile(ids)
        return template % {"column": column_sql, "ids": ids_sql}, (*column_params, *ids_params)

    def as_postgresql(self, compiler, connection):
        return self.as_sql(compiler, connection, template="%(column)s = ANY(ARRAY%(ids)s)")


def name_or_key_contains(text: str) -> Q:
    """Assets whose name or key contains ``text``, ignoring case, as a condition the trigram
    index answers first (see above)."""
    # The index holds name and key joined by a space; the exact test of either column keeps
    # a text spanning the two (the end of a name, a space, the start of its key) from matching.
    matching = (
        Asset.objects.alias(name_and_key=NAME_AND_KEY)
        .filter(name_and_key__icontains=text)
        .filter(Q(name__icontains=text) | Q(key__icontains=text))
        .order_by()
        .values("pk")
    )
    return Q(AmongIds(F("pk"), Subquery(matching)))
