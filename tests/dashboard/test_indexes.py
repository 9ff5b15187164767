"""The PostgreSQL-only indexes inventory declares for the dashboard: built by the migrations on
PostgreSQL, absent on the embedded SQLite default, and usable by the very SQL the pages send.

A test database is too small for the planner to prefer an index on its own, so the other ways
are taken away inside the test's transaction (rolled back after it): every other secondary index
on assets is dropped, sequential scans are priced out, and so are explicit sorts for an index
that gives the order, or ordered index scans for one that narrows a filter. If a page's query
can be answered from the index at all (same expressions, same order, a matching partial
condition) the plan names it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory.models import Asset

pytestmark = pytest.mark.django_db

DASHBOARD_INDEXES = {
    "asset_live_severity",
    "asset_queue_rank",
    "asset_labels_gin",
    "asset_text_trgm",
}
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the indexes exist on PostgreSQL only"
)


def asset_indexes() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, Asset._meta.db_table))


def test_the_indexes_exist_on_postgresql_only():
    present = asset_indexes() & DASHBOARD_INDEXES
    assert present == (DASHBOARD_INDEXES if connection.vendor == "postgresql" else set())


def listing_query(client, url) -> str:
    """The SQL the page ran to fetch its rows (the query that takes a page of assets)."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    listings = [
        q["sql"]
        for q in captured
        if 'FROM "inventory_asset"' in q["sql"] and "LIMIT 51" in q["sql"]
    ]
    assert len(listings) == 1, [q["sql"] for q in captured]
    return listings[0]


ORDER, FILTER = "enable_sort", "enable_indexscan"


def plan_of(sql: str, index_gives, indexes) -> str:
    """The plan of ``sql`` when nothing but ``indexes`` (and the unique ones) could serve it."""
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, Asset._meta.db_table)
        for name, facts in present.items():
            if facts["index"] and not facts["unique"] and name not in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL {index_gives} = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@on_postgresql
@pytest.mark.parametrize(
    ("role", "url", "index_gives", "indexes"),
    [
        ("viewer", "/assets/?sort=-severity", ORDER, ["asset_live_severity"]),
        ("viewer", "/assets/?sort=severity", ORDER, ["asset_live_severity"]),
        ("reconciler", reverse("dashboard:reconcile"), ORDER, ["asset_queue_rank"]),
        ("viewer", "/assets/?label=team%3Dpayments", FILTER, ["asset_labels_gin"]),
        ("viewer", "/assets/?label=team", FILTER, ["asset_labels_gin"]),
        ("viewer", "/assets/?q=fn-00", FILTER, ["asset_text_trgm"]),
    ],
)
def test_the_pages_queries_can_use_them(
    client, estate, viewer, reconciler, role, url, index_gives, indexes
):
    estate("aws", {"111111111111": 12})
    client.force_login(viewer if role == "viewer" else reconciler)
    plan = plan_of(listing_query(client, url), index_gives, indexes)
    for name in indexes:
        assert name in plan, plan


@on_postgresql
def test_the_next_page_of_the_queue_seeks_in_its_index(client, estate, reconciler):
    estate("aws", {"111111111111": 120})
    client.force_login(reconciler)
    first = client.get(reverse("dashboard:reconcile")).content.decode()
    after = first.split("after=", 1)[1].split('"', 1)[0].split("&", 1)[0]
    url = f"{reverse('dashboard:reconcile')}?after={after}"
    plan = plan_of(listing_query(client, url), ORDER, ["asset_queue_rank"])
    assert "asset_queue_rank" in plan and "Index Cond" in plan, plan


def listing_plan(sql: str) -> str:
    """The plan of ``sql`` with every index in place; only sequential scans are priced out, so
    the few rows of a test database are read through indexes as a million would be."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def api_listing_query(client, url) -> str:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    listings = [q["sql"] for q in captured if "LIMIT 50" in q["sql"]]
    assert len(listings) == 1, [q["sql"] for q in captured]
    return listings[0]


TEXT_SEARCHES = [
    ("viewer", "/assets/?q=fn-00"),
    ("viewer", "/assets/?q=fn-00&sort=-first_seen"),
    ("viewer", "/assets/?q=fn-00&sort=-severity"),
    ("viewer", "/assets/?q=fn-00&kind=function&sort=provider"),
    ("reconciler", reverse("dashboard:reconcile") + "?q=fn-00"),
    ("viewer", "/api/v1/assets/?q=fn-00"),
    ("viewer", "/api/v1/assets/?q=fn-00&ordering=-first_seen"),
]


def pad_with_copies(count: int):
    """``count`` more live assets, copies of one with names and keys no search here matches,
    and fresh statistics: enough rows that the planner weighs its choices as for a large
    estate (on a few dozen, reading a whole index in order costs next to nothing)."""
    columns = [
        f.column for f in Asset._meta.concrete_fields if f.column not in {"id", "key", "name"}
    ]
    listed = ", ".join(f'"{column}"' for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "inventory_asset" ("key", "name", {listed}) '
            f"SELECT 'copy://' || n, 'copy-' || n, {listed} FROM \"inventory_asset\", "
            'generate_series(1, %s) AS n WHERE "id" = (SELECT MIN("id") FROM "inventory_asset")',
            [count],
        )
        cursor.execute('ANALYZE "inventory_asset"')


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_initplan(plan: str) -> tuple[str, str]:
    """(the InitPlan's subtree, the rest of the plan)."""
    lines = plan.splitlines()
    start = next(i for i, line in enumerate(lines) if "InitPlan" in line)
    inside = [_indent(line) > _indent(lines[start]) for line in lines[start + 1 :]]
    end = start + 1 + (inside.index(False) if False in inside else len(inside))
    return "\n".join(lines[start:end]), "\n".join(lines[:start] + lines[end:])


@on_postgresql
@pytest.mark.parametrize(("role", "url"), TEXT_SEARCHES)
def test_a_text_search_finds_its_matches_before_it_sorts_them(
    client, estate, viewer, reconciler, role, url
):
    """Whatever the order asked for, the matching ids come first and whole, from the trigram
    index, in an InitPlan (run once, before the rest); the rows with those ids are then read
    and sorted. An index walk in the page's order testing each row against the text (what the
    planner chose at a million assets when it guessed the matches many and early) is not on
    the plan: the text is tested nowhere else, and the page's rows are sorted after reading."""
    estate("aws", {"111111111111": 60})
    pad_with_copies(20_000)
    client.force_login(viewer if role == "viewer" else reconciler)
    query = api_listing_query if url.startswith("/api/") else listing_query
    plan = listing_plan(query(client, url))
    initplan, rest = split_initplan(plan)
    assert "Bitmap Index Scan on asset_text_trgm" in initplan, plan
    assert "~~" not in rest, plan
    assert "(id = ANY (" in rest, plan  # the rows are those of the InitPlan's ids
    assert "Sort Key" in rest, plan
