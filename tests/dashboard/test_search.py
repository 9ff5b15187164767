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

from inventory import search
from inventory.models import Asset

from .helpers import page_of

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
    """The ids on every page of an explorer or queue listing, following its "next" links."""
    path, rows = url.split("?", 1)[0], []
    while url:
        page = page_of(client.get(url))
        rows += table_rows(page)
        following = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = path + html.unescape(following.group(1)) if following else None
    return rows


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


def by_ids(client, text) -> bool:
    """Whether the explorer's listing query for ``text`` reads its rows by a list of ids."""
    with CaptureQueriesContext(connection) as captured:
        page_of(client.get(f"{EXPLORER}?{urlencode({'q': text})}"))
    (listing,) = [q["sql"] for q in captured if "LIMIT 51" in q["sql"]]
    return "= ANY(" in listing


@pytest.fixture
def estate_with_gone(estate):
    estate("prod", {"acct-a": 70, "acct-b": 30})
    estate("old", {"acct-o": 12})
    Asset.objects.filter(account="acct-o", kind="function", name__lt="fn-0006").update(
        gone_at="2026-01-01T00:00:00Z"
    )


@pytest.mark.parametrize(("text", "some_match"), TEXTS)
def test_few_and_many_matches_list_the_same_rows_in_the_same_order(
    client, reconciler, estate_with_gone, monkeypatch, text, some_match
):
    client.force_login(reconciler)
    few = listings(client, text)
    matches = Asset.objects.filter(search.text_matches(text)).count()
    monkeypatch.setattr(search, "FEW_MATCHES", matches - 1)
    many = listings(client, text)
    assert many == few
    # both ways were taken (PostgreSQL), and the listings are not all empty
    if connection.vendor == "postgresql":
        monkeypatch.setattr(search, "FEW_MATCHES", matches)
        assert by_ids(client, text)
        monkeypatch.setattr(search, "FEW_MATCHES", matches - 1)
        assert not by_ids(client, text)
    assert any(few.values()) == some_match


def test_the_matches_are_counted_no_further_than_one_past_few(client, viewer, estate):
    """The query that decides reads at most ``FEW_MATCHES`` + 1 ids, however many match."""
    estate("prod", {"acct-a": 40})
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as captured:
        page_of(client.get(f"{EXPLORER}?q=fn"))
    probes = [q["sql"] for q in captured if f"LIMIT {search.FEW_MATCHES + 1}" in q["sql"]]
    assert len(probes) == (1 if connection.vendor == "postgresql" else 0)
