"""The PostgreSQL-only indexes inventory declares for the dashboard: built by the migrations on
PostgreSQL, absent on the embedded SQLite default, and usable by the very SQL the pages send.

A test database is too small for the planner to prefer an index on its own, so the other ways
are taken away inside the test's transaction (rolled back after it): every other secondary index
on assets is dropped, sequential scans are priced out, and so are explicit sorts for an index
that gives the order, or ordered index scans for one that narrows a filter. If a page's query
can be answered from the index at all (same expressions, same order, a matching partial
condition) the plan names it."""

import re
from urllib.parse import urlencode

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard import paging
from inventory import search
from inventory.models import Asset
from tests.conftest import PROD_EKS

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


def queries_of(client, url) -> list[str]:
    """The SQL of every query a request for ``url`` made."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured]


def the_query(sqls: list[str], limit: int) -> str:
    """The one query among ``sqls`` that takes ``limit`` rows of assets."""
    limited = [
        sql
        for sql in sqls
        if 'FROM "inventory_asset"' in sql and re.search(rf"LIMIT {limit}\b", sql)
    ]
    assert len(limited) == 1, sqls
    return limited[0]


def listing_query(client, url) -> str:
    """The SQL the page ran to fetch its rows (the query that takes a page of assets)."""
    return the_query(queries_of(client, url), 50 if url.startswith("/api/") else 51)


ORDER, FILTER = "enable_sort", "enable_indexscan"


def plan_of(sql: str, index_gives, indexes) -> str:
    """The plan of ``sql`` when nothing but ``indexes`` (and the unique ones) could serve it
    (in a savepoint rolled back after, so the next plan the test asks for has every index)."""
    with transaction.atomic(), connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, Asset._meta.db_table)
        for name, facts in present.items():
            if facts["index"] and not facts["unique"] and name not in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL {index_gives} = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


@on_postgresql
@pytest.mark.parametrize(
    ("role", "url", "index_gives", "indexes"),
    [
        ("viewer", "/assets/?sort=-severity", ORDER, ["asset_live_severity"]),
        ("viewer", "/assets/?sort=severity", ORDER, ["asset_live_severity"]),
        ("reconciler", reverse("dashboard:reconcile"), ORDER, ["asset_queue_rank"]),
        ("viewer", "/assets/?label=team%3Dpayments", FILTER, ["asset_labels_gin"]),
        ("viewer", "/assets/?label=team", FILTER, ["asset_labels_gin"]),
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
    """``count`` more live assets, copies of one named ``copy-n`` (``copy://n`` their keys),
    untracked and unowned so the queue holds them too, and fresh statistics: enough rows that
    the planner weighs its choices as for a large estate (on a few dozen, reading a whole index
    in order costs next to nothing)."""
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
        cursor.execute(
            'UPDATE "inventory_asset" SET "tracking" = \'untracked\', "owner_id" = NULL '
            "WHERE \"key\" LIKE 'copy://%%'"
        )
        cursor.execute('ANALYZE "inventory_asset"')


@on_postgresql
@pytest.mark.parametrize(("role", "url"), TEXT_SEARCHES)
def test_few_matches_are_found_by_the_trigram_index_then_read_by_id(
    client, estate, viewer, reconciler, role, url
):
    """Whatever the order asked for, a text with few matches (60 of 20,060 assets) is looked up
    in the trigram index first, no further than one past ``FEW_MATCHES``; the page then reads
    the rows with those ids and sorts them. An index walk in the page's order testing each row
    against the text (what the planner chose at a million assets when it guessed the matches
    many and early) is not on the plan: the text is tested nowhere in it."""
    estate("aws", {"111111111111": 60})
    pad_with_copies(20_000)
    client.force_login(viewer if role == "viewer" else reconciler)
    sqls = queries_of(client, url)
    probe = plan_of(the_query(sqls, search.FEW_MATCHES + 1), FILTER, ["asset_text_trgm"])
    assert "Bitmap Index Scan on asset_text_trgm" in probe, probe
    plan = listing_plan(the_query(sqls, 50 if url.startswith("/api/") else 51))
    assert "~~" not in plan, plan
    assert "(id = ANY (" in plan, plan
    assert "Sort Key" in plan, plan


# A text in every padded copy's name and key: many more matches than FEW_MATCHES. (The API's
# orderings put NULLs first ascending and last descending, which no index here gives.)
MANY_MATCHES = [
    ("viewer", "/assets/?q=copy", "asset_name"),
    ("viewer", "/assets/?q=copy&sort=-severity", "asset_live_severity"),
    ("viewer", "/assets/?q=copy&sort=-first_seen", "asset_first_seen"),
    ("reconciler", reverse("dashboard:reconcile") + "?q=copy", "asset_queue_rank"),
]


@on_postgresql
@pytest.mark.parametrize(("role", "url", "index"), MANY_MATCHES)
def test_many_matches_are_met_walking_the_index_of_the_pages_order(
    client, estate, viewer, reconciler, role, url, index
):
    """A text in 20,000 of 20,060 assets: the trigram index is read only until it has shown
    there are more than ``FEW_MATCHES``. The page then walks ``WALK_ROWS`` rows of the listing
    without its text, in the index of its order, tests the text on those rows alone and reads
    the page's rows by id (at a million assets the walk finds ``aws`` and ``api`` at once,
    bench/README.md)."""
    estate("aws", {"111111111111": 60})
    pad_with_copies(20_000)
    client.force_login(viewer if role == "viewer" else reconciler)
    sqls = queries_of(client, url)
    probe = plan_of(the_query(sqls, search.FEW_MATCHES + 1), FILTER, ["asset_text_trgm"])
    assert "Bitmap Index Scan on asset_text_trgm" in probe, probe
    (walk,) = [sql for sql in sqls if f"LIMIT {paging.WALK_ROWS}" in sql]
    plan = plan_of(walk, ORDER, [index])
    assert re.search(rf"Index Scan (Backward )?using {index} on inventory_asset u0", plan), plan
    assert not [sql for sql in sqls if "OFFSET 0" in sql]  # the walk found the page
    assert "(id = ANY (" in plan, plan


@on_postgresql
@pytest.mark.parametrize(("role", "url", "index"), MANY_MATCHES)
def test_many_matches_late_in_the_order_are_read_all_then_sorted(
    client, estate, viewer, reconciler, role, url, index, monkeypatch
):
    """When the walk meets fewer than a page of matches (here it is 5 rows long), every match
    is read, fenced off from the page's order (``OFFSET 0``) so that no walk of its index can
    be chosen however many the planner expects, and sorted."""
    monkeypatch.setattr(paging, "WALK_ROWS", 5)
    estate("aws", {"111111111111": 60})
    pad_with_copies(20_000)
    client.force_login(viewer if role == "viewer" else reconciler)
    (read_all,) = [sql for sql in queries_of(client, url) if "OFFSET 0" in sql]
    plan = listing_plan(read_all)
    chosen = plan.split("InitPlan", 1)[1]  # (PostgreSQL leaves the fence itself off the plan)
    # a whole sort of what was read: no index walked in the page's order (its rows would come
    # sorted, or need an incremental sort only)
    assert re.search(r"->  Sort  \(", chosen), plan
    assert "(id = ANY (" in plan, plan


def pad_with_containers(count: int):
    """``count`` padded copies (``pad_with_copies``) made containers of 2,000 of themselves:
    parents enough that the planner knows, as at scale, that an asset has few children."""
    pad_with_copies(count)
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE "inventory_asset" SET "kind" = \'container\', "parent_id" = first.id + '
            '"inventory_asset"."id" %% 2000 FROM (SELECT MIN("id") AS id FROM "inventory_asset" '
            "WHERE \"key\" LIKE 'copy://%%') AS first WHERE \"key\" LIKE 'copy://%%'",
            [],
        )
        cursor.execute('ANALYZE "inventory_asset"')


@on_postgresql
@pytest.mark.parametrize(
    ("url", "queries"),
    [
        ("/assets/?runs_on=prod-eks", 2),
        ("/assets/?runs_on=prod-eks&sort=-severity", 2),
        (f"/assets/?{urlencode({'runs_on': PROD_EKS, 'account': '111111111111'})}", 2),
        ("/api/v1/assets/?runs_on=prod-eks", 2),
        ("cluster page", 1),
    ],
)
def test_what_runs_on_a_host_is_read_level_by_level_through_indexes(
    client, hosted_estate, viewer, url, queries
):
    """Among 20,060 assets, as the planner chooses with nothing priced out: the hosts are
    looked up by name or key (``asset_name``, ``asset_key_unique``), their children by parent,
    and the listing's rows by parent again, each level an array built once (an InitPlan) and
    read through the parent index: no sequential scan of the assets, no subquery tested on
    every row of a walk or flattened into a join of the estate with itself."""
    pad_with_containers(20_000)
    client.force_login(viewer)
    if url == "cluster page":  # its count of what runs on it
        url = hosted_estate[PROD_EKS].get_absolute_url()
    sqls = [sql for sql in queries_of(client, url) if "'docker_host'" in sql]  # hosts' kinds
    assert len(sqls) == queries  # a list's rows and its count, or the asset page's count
    for sql in sqls:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan on inventory_asset" not in plan, plan
        # no subquery tested row by row, nor made a join the listing's own filters drive
        assert "SubPlan" not in plan and "Semi Join" not in plan, plan
        assert "Bitmap Index Scan on asset_name" in plan, plan  # the hosts: by name
        assert "Bitmap Index Scan on asset_key_unique" in plan, plan  # or key
        assert "Index Cond: (parent_id = ANY ($" in plan, plan  # the hosts' children
        assert "Index Cond: (parent_id = ANY (($" in plan, plan  # the hosts' and theirs
