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
    "asset_name_trgm",
    "asset_key_trgm",
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
        ("viewer", "/assets/?q=fn-00", FILTER, ["asset_name_trgm", "asset_key_trgm"]),
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
