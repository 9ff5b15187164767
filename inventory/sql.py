"""Conditions on primary keys that Django's ORM does not write the way the planner needs."""

from django.db.models import BooleanField, F, Func


class AmongIds(Func):
    """True for rows whose ``column`` is one of ``ids``, sent as one array parameter (the
    planner then knows how many there are)."""

    output_field = BooleanField()
    template = "%(column)s = ANY(%%s)"

    def __init__(self, column, ids: list[int]):
        super().__init__(column)
        self.ids = ids

    def as_sql(self, compiler, connection):
        (column,) = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        return self.template % {"column": column_sql}, (*column_params, self.ids)


class Among(Func):
    """True for rows whose ``column`` is one of the values that any of one or more one-column
    subqueries lists. On PostgreSQL as ``column = ANY(ARRAY(a) || ARRAY(b))``: each subquery
    runs once, whole, before the query around it, which reads those rows through an index on
    ``column`` (an IN may become a join driven from the outer query's own filters, and an OR
    of INs is tested on every row of a scan); elsewhere as ``column IN a OR column IN b``."""

    output_field = BooleanField()

    def __init__(self, column, *subqueries):
        super().__init__(column, *subqueries)

    def _compiled(self, compiler):
        (column, column_params), *subqueries = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        params = [*column_params, *(param for _, params in subqueries for param in params)]
        return column, [sql for sql, _ in subqueries], tuple(params)

    def as_sql(self, compiler, connection):
        column, subqueries, params = self._compiled(compiler)
        tests = " OR ".join(f"{column} IN {subquery}" for subquery in subqueries)
        return f"({tests})", params

    def as_postgresql(self, compiler, connection):
        column, subqueries, params = self._compiled(compiler)
        arrays = " || ".join(f"ARRAY{subquery}" for subquery in subqueries)
        return f"{column} = ANY({arrays})", params


class PkAmong(Among):
    """The row's primary key is one of the ids a one-column subquery lists (see ``Among``)."""

    def __init__(self, ids):
        super().__init__(F("pk"), ids)
