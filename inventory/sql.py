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


class PkAmong(Func):
    """The row's primary key is one of the ids a one-column subquery lists. On PostgreSQL as
    ``id = ANY(ARRAY(subquery))``: the subquery runs once, whole, before the query around it,
    which reads those rows by primary key (an IN may become a join driven from the outer
    query's own filters)."""

    output_field = BooleanField()

    def __init__(self, ids):
        super().__init__(F("pk"), ids)

    def as_sql(self, compiler, connection, template="%(pk)s IN %(ids)s"):
        (pk_sql, pk_params), (ids_sql, ids_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        return template % {"pk": pk_sql, "ids": ids_sql}, (*pk_params, *ids_params)

    def as_postgresql(self, compiler, connection):
        return self.as_sql(compiler, connection, template="%(pk)s = ANY(ARRAY%(ids)s)")
