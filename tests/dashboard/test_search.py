"""Free-text search (``inventory.search``) finds the same assets in the same order whether its
matches are few, and read by their ids, or many, and left to the plain filter: in the explorer
(every sort, every page), the queue, the CSV export and the API."""

import csv
import html
import io
import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard import paging
from inventory import search
from inventory.models import Asset

from .helpers import page_of, text_of

pytestmark = pytest.mark.django_db

EXPLORER, QUEUE = reverse("dashboard:assets"), reverse("dashboard:reconcile")
EXPORT, API = reverse("dashboard:assets-export"), "/api/v1/assets/"
# (text, whether anything matches): in names, in keys, in both, nowhere, and spanning a name
# and its key (the end of a name, a space, the start of its key), which matches nothing.
TEXTS = [
    ("fn-00", True),
    ("FN://ACCT-B/1", True),
    ("cluster", True),
    ("nothing-matches-this", False),
    ("0001 fn://acct-a", False),
]
SORTS = ["name", "-name", "-severity", "first_seen", "provider", "-last_changed"]


def table_rows(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-asset="(\d+)"', page)]


def every_page(client, url) -> list[int]:
    """The ids on every page of an explorer or queue listing, following its "next" links to
    the last page and its "previous" links back, which must show the same pages."""
    path = url.split("?", 1)[0]

    def follow(url, rel) -> tuple[list[list[int]], str]:
        pages = []
        while url:
            page = page_of(client.get(url))
            pages.append(table_rows(page))
            link = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
            url = path + html.unescape(link.group(1)) if link else None
            last = page
        return pages, last

    forward, last = follow(url, "next")
    back = re.search(r'<a href="([^"]+)" rel="prev">', last)
    if back:
        backward, _ = follow(path + html.unescape(back.group(1)), "prev")
        assert backward[::-1] == forward[:-1]
    return [pk for rows in forward for pk in rows]


def exported(client, url) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return [row["key"] for row in csv.DictReader(io.StringIO(text))]


def api_rows(client, url) -> list[int]:
    rows = []
    while url:
        body = client.get(url).json()
        rows += [row["id"] for row in body["results"]]
        url = body["next"]
    return rows


def listings(client, text: str) -> dict[str, list]:
    """What every listing with a text search shows, keyed by URL."""
    shown = {}
    for sort in SORTS:
        url = f"{EXPLORER}?{urlencode({'q': text, 'sort': sort, 'state': 'all'})}"
        shown[url] = every_page(client, url)
        export = f"{EXPORT}?{urlencode({'q': text, 'sort': sort})}"
        shown[export] = exported(client, export)
    shown[QUEUE] = every_page(client, f"{QUEUE}?{urlencode({'q': text})}")
    for ordering in ("", "-first_seen", "name"):
        url = f"{API}?{urlencode({'q': text, 'ordering': ordering, 'limit': 30})}"
        shown[url] = api_rows(client, url)
    return shown


@pytest.fixture
def estate_with_gone(estate):
    estate("prod", {"acct-a": 70, "acct-b": 30})
    estate("old", {"acct-o": 12})
    Asset.objects.filter(account="acct-o", kind="function", name__lt="fn-0006").update(
        gone_at="2026-01-01T00:00:00Z"
    )


def listing_queries(client, url) -> list[str]:
    """The SQL of the queries that read a page's rows (those that take LIMIT 51 somewhere)."""
    with CaptureQueriesContext(connection) as captured:
        page_of(client.get(url))
    return [q["sql"] for q in captured if "LIMIT 51" in q["sql"]]


@pytest.mark.parametrize(("text", "some_match"), TEXTS)
def test_few_and_many_matches_list_the_same_rows_in_the_same_order(
    client, reconciler, estate_with_gone, monkeypatch, text, some_match
):
    """Few matches are read by id; many (``FEW_MATCHES`` lowered below any count) are left to
    the plain filter, and a page in an indexed order then walks the listing first: far enough
    to find its page (all 115 assets), or too short (5 rows), so every match is read."""
    client.force_login(reconciler)
    matches = Asset.objects.filter(search.text_matches(text)).count()
    monkeypatch.setattr(search, "FEW_MATCHES", matches)
    few = listings(client, text)
    monkeypatch.setattr(search, "FEW_MATCHES", -1)  # any count is more
    far_enough = paging.WALK_ROWS
    for walk in (far_enough, 5):
        monkeypatch.setattr(paging, "WALK_ROWS", walk)
        assert listings(client, text) == few
    assert any(few.values()) == some_match
    if connection.vendor != "postgresql":
        return
    # the ways were taken: ids, a walk that found the page, a walk then every match read
    url = f"{EXPLORER}?{urlencode({'q': text})}"
    monkeypatch.setattr(search, "FEW_MATCHES", matches)
    (listing,) = listing_queries(client, url)
    assert "LIKE" not in listing  # by the ids found first
    monkeypatch.setattr(search, "FEW_MATCHES", -1)
    live_matches = Asset.objects.filter(search.text_matches(text), gone_at__isnull=True).count()
    for walk, queries in ((far_enough, 1 if live_matches > 50 else 2), (5, 2)):
        monkeypatch.setattr(paging, "WALK_ROWS", walk)
        read = listing_queries(client, url)
        assert len(read) == queries, read
        assert f"LIMIT {walk}" in read[0]
        assert ("OFFSET 0" in read[-1]) == (queries == 2)


def test_the_matches_are_counted_no_further_than_one_past_few(client, viewer, estate):
    """The query that decides reads at most ``FEW_MATCHES`` + 1 ids, however many match, and
    what it counted is the page's count: no other query counts the matches."""
    estate("prod", {"acct-a": 40})
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as captured:
        page = page_of(client.get(f"{EXPLORER}?q=fn"))
    sqls = [q["sql"] for q in captured]
    probes = [sql for sql in sqls if sql.startswith("WITH matching AS MATERIALIZED")]
    counts = [sql for sql in sqls if sql.startswith("SELECT COUNT(*)")]
    if connection.vendor == "postgresql":
        (probe,) = probes
        assert probe.endswith(f"LIMIT {search.FEW_MATCHES + 1}")
        assert not counts
    else:
        assert not probes and len(counts) == 1
    matches = Asset.objects.filter(name__contains="fn").count()
    assert text_of(page, "result-count") == f"{matches} assets"
