"""Indexes only PostgreSQL builds.

The dashboard's slow paths at a million assets (sort by worst finding, the reconciliation
queue's ranking, tag containment, free-text search) need indexes that only pay off, or only
exist, on PostgreSQL: GIN and trigram indexes, and partial expression indexes whose write cost
the embedded SQLite default has no reason to carry. Declared in ``Meta.indexes`` like any other
index, so the model says what the database holds; on any other database the statements that
would create or drop them are empty, including when SQLite rebuilds a table for a migration.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.backends.ddl_references import Statement


def _skipped(index) -> Statement:
    # A comment, not None: Django executes (or prints, for sqlmigrate) whatever it is given.
    return Statement("-- %(name)s: PostgreSQL only", name=index.name)


class PostgresOnlyMixin:
    def create_sql(self, model, schema_editor, *args, **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return _skipped(self)
        return super().create_sql(model, schema_editor, *args, **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return _skipped(self)
        return super().remove_sql(model, schema_editor, **kwargs)


class PostgresIndex(PostgresOnlyMixin, models.Index):
    """A B-tree index (partial or on expressions) built on PostgreSQL only."""


class PostgresGinIndex(PostgresOnlyMixin, GinIndex):
    """A GIN index (JSON containment, trigrams) built on PostgreSQL only."""
