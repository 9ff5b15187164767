"""Filtering assets by tag or label, the one way the API and the dashboard both use."""

import json

from django.db import NotSupportedError, connection
from django.db.models import F, Func, TextField


class LabelText(Func):
    """The text value of one tag or label. Unlike Django's key transforms, the key is always
    a key (tags named "2024" exist, never an array index) and always a query parameter."""

    output_field = TextField()

    def __init__(self, key: str, field: str = "labels"):
        super().__init__(F(field))
        self.key = str(key)

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError("label filtering supports PostgreSQL and SQLite")

    def as_postgresql(self, compiler, connection, **extra):
        labels, params = compiler.compile(self.get_source_expressions()[0])
        return f"({labels} ->> %s)", (*params, self.key)

    def as_sqlite(self, compiler, connection, **extra):
        labels, params = compiler.compile(self.get_source_expressions()[0])
        return f"JSON_EXTRACT({labels}, %s)", (*params, "$." + json.dumps(self.key))


def filter_label(queryset, value: str):
    """Assets carrying the tag ``key=value`` (or any value, for just ``key``). On PostgreSQL as
    JSON containment and key existence, which a GIN index on labels can answer; elsewhere
    through ``LabelText``. Tag values are always strings, so both agree."""
    key, has_value, wanted = value.partition("=")
    key, wanted = key.strip(), wanted.strip()
    if connection.vendor == "postgresql":
        if has_value:
            return queryset.filter(labels__contains={key: wanted})
        return queryset.filter(labels__has_key=key)
    queryset = queryset.annotate(_label=LabelText(key))
    if has_value:
        return queryset.filter(_label=wanted)
    return queryset.filter(_label__isnull=False)
