"""The assets explorer: filters in the URL, sorting, keyset pages, capped counts, CSV export, and
the overview's numbers leading to the lists behind them."""

import csv
import html
import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.urls import reverse

from dashboard import paging
from inventory.models import Asset, Scope, Source, TrackingStatus
from tests.conftest import NOW

from .helpers import (
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    PAGE_BUDGET,
    ingest_hostile_asset,
    page_of,
    queries_for,
    text_of,
)

pytestmark = pytest.mark.django_db
URL = "/assets/"


def listed(page: str) -> list[int]:
    """The ids of the assets in the explorer's table, in order."""
    table = page.split('data-testid="assets"')[1].split("</table>")[0]
    return [int(pk) for pk in re.findall(r'<tr data-asset="(\d+)">', table)]


def link(page: str, rel: str) -> str | None:
    """The pager's link to the next or previous page (a query string on the same path)."""
    match = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return URL + html.unescape(match.group(1)) if match else None


def live():
    return Asset.objects.filter(gone_at__isnull=True)


@pytest.fixture
def signed_in(client, viewer):
    client.force_login(viewer)
    return client


def test_anonymous_visitors_cannot_list_or_export(client):
    for url in (URL, reverse("dashboard:assets-export")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_unfiltered_list_shows_every_live_asset_by_name(signed_in, estate):
    estate("prod", {"acct-a": 8, "acct-b": 4})
    page = page_of(signed_in.get(URL))
    assert text_of(page, "result-count") == "14 assets"
    expected = list(live().order_by("name", "id").values_list("id", flat=True))
    assert listed(page) == expected
    assert 'aria-sort="ascending"' in page  # the name column says it is the sort
    assert 'data-testid="pager"' not in page  # one page, no pager


# (query string, which live assets must be listed); the estate's functions: even index carries
# the owner tag, every third answers the internet without authentication, every fourth runs
# Node 14 (end of life); one cluster per scope, tagged for Payments, on Kubernetes 1.31.2.
def _fn_index(asset):
    return int(asset.key.rsplit("/", 1)[1]) if asset.key.startswith("fn://") else None


def _is_fn(asset):
    return asset.kind == "function"


FILTER_CASES = [
    ("provider=kubernetes", lambda a: a.kind == "cluster"),
    ("kind=function", _is_fn),
    ("account=acct-b", lambda a: a.account == "acct-b"),
    ("owner=payments", lambda a: not _is_fn(a) or _fn_index(a) % 2 == 0),
    ("owner=none", lambda a: _is_fn(a) and _fn_index(a) % 2 == 1),
    ("tracking=untracked", lambda a: _is_fn(a) and _fn_index(a) % 2 == 1),
    ("tracking=tracked", lambda a: not _is_fn(a) or _fn_index(a) % 2 == 0),
    ("exposed=yes", lambda a: _is_fn(a) and _fn_index(a) % 3 == 0),
    ("exposed=no", lambda a: not _is_fn(a) or _fn_index(a) % 3 != 0),
    ("eol=yes&kind=function", lambda a: _is_fn(a) and _fn_index(a) % 4 == 0),
    ("runtime=nodejs14.x", lambda a: _is_fn(a) and _fn_index(a) % 4 == 0),
    ("version=1.31", lambda a: a.kind == "cluster"),
    ("version=1.3", lambda a: False),  # 1.31 is not a finer version of 1.3
    ("image=registry.internal.example/fn", _is_fn),
    ("image=registry.internal.example/f", lambda a: False),  # a repository, not a prefix
    ("label=team%3Dpayments", lambda a: not _is_fn(a) or _fn_index(a) % 2 == 0),
    ("label=purpose", lambda a: _is_fn(a) and _fn_index(a) % 2 == 1),
    ("label=purpose%3Dnope", lambda a: False),
    ("q=fn-0003", lambda a: _is_fn(a) and _fn_index(a) == 3),
    ("q=FN://ACCT-B", lambda a: _is_fn(a) and a.account == "acct-b"),
    ("q=0003%20fn://", lambda a: False),  # the end of a name and the start of its key
    ("q=fn_0003", lambda a: False),  # LIKE's wildcards are taken literally
    ("q=%25", lambda a: False),
    ("finding=unauthenticated-endpoint", lambda a: _is_fn(a) and _fn_index(a) % 3 == 0),
    ("source=prod&account=acct-a", lambda a: a.account == "acct-a"),
    ("source=elsewhere", lambda a: False),
    (
        "owner=payments&exposed=yes&account=acct-a",
        lambda a: a.key in {"fn://acct-a/0", "fn://acct-a/6"},
    ),
]


@pytest.mark.parametrize(("query", "wanted"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_each_filter_narrows_the_list_to_what_it_says(signed_in, estate, query, wanted):
    estate("prod", {"acct-a": 8, "acct-b": 4})
    page = page_of(signed_in.get(f"{URL}?{query}"))
    expected = sorted(a.pk for a in live() if wanted(a))
    assert sorted(listed(page)) == expected
    count = len(expected)
    assert text_of(page, "result-count") == f"{count} asset{'s' if count != 1 else ''}"
    assert "Ignored" not in page


def test_severity_filters_use_the_worst_open_finding(signed_in, estate):
    estate("prod", {"acct-a": 8})
    for value in range(5):
        worst = sorted(live().filter(max_severity=value).values_list("id", flat=True))
        at_least = sorted(live().filter(max_severity__gte=value).values_list("id", flat=True))
        assert sorted(listed(page_of(signed_in.get(f"{URL}?severity={value}")))) == worst
        assert sorted(listed(page_of(signed_in.get(f"{URL}?min_severity={value}")))) == at_least
    assert live().filter(max_severity__isnull=False).exists()


def test_scope_and_first_seen_filters(signed_in, estate):
    estate("prod", {"acct-a": 2}, at=NOW - timedelta(days=10))
    estate("prod", {"acct-a": 2, "acct-b": 3}, at=NOW)
    old = sorted(live().filter(account="acct-a").values_list("id", flat=True))
    new = sorted(live().filter(account="acct-b").values_list("id", flat=True))
    day = (NOW - timedelta(days=5)).date().isoformat()
    assert sorted(listed(page_of(signed_in.get(f"{URL}?first_seen_before={day}")))) == old
    assert sorted(listed(page_of(signed_in.get(f"{URL}?first_seen_after={day}")))) == new
    scope = Scope.objects.get(key="acct-b")
    assert sorted(listed(page_of(signed_in.get(f"{URL}?scope={scope.pk}")))) == new


def test_gone_assets_are_listed_only_when_asked_for(signed_in, estate):
    estate("prod", {"acct-a": 4})
    estate("prod", {"acct-a": 2})  # the scope, read in full, no longer has fn 2 and 3
    gone = sorted(Asset.objects.filter(gone_at__isnull=False).values_list("id", flat=True))
    assert len(gone) == 2
    assert not set(gone) & set(listed(page_of(signed_in.get(URL))))
    page = page_of(signed_in.get(f"{URL}?state=gone"))
    assert sorted(listed(page)) == gone
    assert "marker-gone" in page
    assert len(listed(page_of(signed_in.get(f"{URL}?state=all")))) == Asset.objects.count()


def test_a_value_that_does_not_validate_is_dropped_and_said_so(signed_in, estate):
    estate("prod", {"acct-a": 3})
    page = page_of(signed_in.get(f"{URL}?provider=mainframe&min_severity=9&kind=function"))
    assert "Ignored 2 filters that did not make sense" in page
    assert "Provider" in page and "Open finding at least" in page
    assert sorted(listed(page)) == sorted(
        live().filter(kind="function").values_list("id", flat=True)
    )


def test_chips_show_each_filter_and_remove_it_alone(signed_in, estate, payments):
    estate("prod", {"acct-a": 3})
    page = page_of(signed_in.get(f"{URL}?owner=payments&exposed=yes&sort=-first_seen"))
    chips = page.split('data-testid="chips"')[1].split("</ul>")[0]
    assert '<span class="chip-value">Payments</span>' in chips
    removals = [html.unescape(u) for u in re.findall(r'class="chip-remove" href="([^"]+)"', chips)]
    remaining = sorted(sorted(parse_qs(urlsplit(u).query)) for u in removals)
    assert remaining == [["exposed", "sort"], ["owner", "sort"]]


SORT_CASES = {
    "name": lambda a: (a.name, a.pk),
    "-name": lambda a: (tuple(-ord(c) for c in a.name), -a.pk),
    "account": lambda a: (a.account, a.name, a.pk),
    "-first_seen": lambda a: (-a.first_seen.timestamp(), -a.pk),
    "severity": lambda a: (-1 if a.max_severity is None else a.max_severity, a.pk),
    "-severity": lambda a: (-(-1 if a.max_severity is None else a.max_severity), -a.pk),
}


@pytest.mark.parametrize("sort", SORT_CASES)
def test_keyset_pages_walk_every_asset_once_in_order_and_back(signed_in, estate, sort):
    estate("early", {"acct-a": 30}, at=NOW - timedelta(days=3))
    estate("late", {"acct-b": 40, "acct-c": 45})  # 118 assets: three pages of 50
    expected = [a.pk for a in sorted(live(), key=SORT_CASES[sort])]
    assert len(expected) == 118

    url, pages, seen = f"{URL}?sort={sort}", [], []
    while url:
        page = page_of(signed_in.get(url))
        pages.append(page)
        seen += listed(page)
        url = link(page, "next")
    assert seen == expected
    assert [len(listed(p)) for p in pages] == [50, 50, 18]
    assert link(pages[0], "prev") is None

    back = link(pages[-1], "prev")
    assert listed(page_of(signed_in.get(back))) == expected[50:100]
    # the sort travels with the page (the default one is left out of the URL)
    assert parse_qs(urlsplit(back).query).get("sort", ["name"]) == [sort]


def test_a_tampered_page_token_starts_again_at_the_first_page(signed_in, estate):
    estate("prod", {"acct-a": 60})
    first = listed(page_of(signed_in.get(URL)))
    for token in ("garbage", "W10", "WyJhIl0", "eyJhIjogMX0", "x" * 5000):
        assert listed(page_of(signed_in.get(f"{URL}?after={token}"))) == first


def test_counting_stops_at_the_cap_and_can_be_asked_to_go_on(signed_in, estate, monkeypatch):
    estate("prod", {"acct-a": 30})
    monkeypatch.setattr(paging, "COUNT_CAP", 10)
    page = page_of(signed_in.get(URL))
    assert text_of(page, "result-count") == "More than 10 assets"
    exact = html.unescape(re.search(r'<a href="([^"]+)">Count them all</a>', page).group(1))
    assert text_of(page_of(signed_in.get(URL + exact)), "result-count") == "31 assets"


def test_list_queries_do_not_grow_with_the_estate(signed_in, estate, django_assert_max_num_queries):
    estate("small", {"acct-0": 3})
    query = "?label=team%3Dpayments&q=fn&exposed=yes&sort=-severity"
    small = max(queries_for(signed_in, URL), queries_for(signed_in, URL + query))
    assert small <= PAGE_BUDGET

    estate("big", {f"acct-{n}": 40 for n in range(1, 5)})
    # tagged, exposed functions: index 0 of the small scope and 0, 6, … 36 of each big one
    for url, rows in ((URL, 50), (URL + query, 1 + 4 * 7)):
        with django_assert_max_num_queries(small):
            assert len(listed(page_of(signed_in.get(url)))) == rows
    second = link(page_of(signed_in.get(URL)), "next")
    with django_assert_max_num_queries(small):
        assert len(listed(page_of(signed_in.get(second)))) == 50


# --- CSV export -----------------------------------------------------------------------------


def rows_of_csv(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_streams_every_row_of_the_current_filter_in_its_order(signed_in, estate):
    estate("prod", {"acct-a": 70})  # more than a page: the export is not paged
    query = urlencode({"tracking": "untracked", "sort": "-name"})
    rows = rows_of_csv(signed_in.get(f"{reverse('dashboard:assets-export')}?{query}"))
    expected = live().filter(tracking=TrackingStatus.UNTRACKED).order_by("-name", "-id")
    assert [r["key"] for r in rows] == [a.key for a in expected]
    assert len(rows) == 35
    assert {r["tracking"] for r in rows} == {"untracked"}
    assert rows[0]["owner"] == "" and rows[0]["first_seen"].startswith("2026-11-01")


def test_the_list_links_its_export_with_the_same_filters(signed_in, estate):
    estate("prod", {"acct-a": 4})
    page = page_of(signed_in.get(f"{URL}?kind=function&exposed=yes"))
    export = html.unescape(re.search(r'<a href="([^"]+)" data-testid="export-csv"', page).group(1))
    rows = rows_of_csv(signed_in.get(URL + export))
    assert sorted(r["key"] for r in rows) == ["fn://acct-a/0", "fn://acct-a/3"]


def test_export_keeps_hostile_names_as_text_for_spreadsheets(signed_in, scope_run):
    hostile = ingest_hostile_asset(scope_run)
    Asset.objects.filter(pk=hostile.pk).update(name='=HYPERLINK("http://x.example","y")')
    rows = rows_of_csv(signed_in.get(reverse("dashboard:assets-export")))
    assert rows[0]["name"] == '\'=HYPERLINK("http://x.example","y")'
    assert rows[0]["namespace"] == HOSTILE_IMG  # quoted by the CSV writer, not altered


# --- escaping -------------------------------------------------------------------------------


def test_hostile_names_and_filter_values_are_escaped(signed_in, scope_run):
    ingest_hostile_asset(scope_run)
    page = page_of(signed_in.get(f"{URL}?{urlencode({'namespace': HOSTILE_IMG})}"))
    assert len(listed(page)) == 1
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(HOSTILE_SCRIPT) in page  # the name in the table
    assert page.count(html.escape(HOSTILE_IMG)) >= 2  # the namespace cell and its chip

    page = page_of(signed_in.get(f"{URL}?{urlencode({'q': HOSTILE_SCRIPT})}"))
    assert "<script>alert" not in page
    assert len(listed(page)) == 1

    # a hostile tag value is a value to compare, whatever the database's JSON syntax
    for label in (f"owner={HOSTILE_SCRIPT}", "items", "nul=before\ufffdafter"):
        page = page_of(signed_in.get(f"{URL}?{urlencode({'label': label})}"))
        assert len(listed(page)) == 1, label
    for label in ("owner=<script>", "owner", "$.owner", "owner') OR 1=1 --"):
        page = page_of(signed_in.get(f"{URL}?{urlencode({'label': label})}"))
        assert len(listed(page)) == (1 if label == "owner" else 0), label


# --- the overview leads here ----------------------------------------------------------------


def test_every_overview_number_opens_a_list_of_exactly_that_many(signed_in, estate):
    estate("prod", {"acct-a": 12, "acct-b": 5})
    source = Source.objects.get(name="prod")
    overview = page_of(signed_in.get("/"))
    figures = re.findall(r'<a class="figure" href="([^"]+)">([\d,]+)</a>', overview)
    tiles = re.findall(r'<a href="(/assets/[^"]*)" data-testid="([a-z-]+)">([\d,]+)</a>', overview)
    links = [(html.unescape(u), int(n.replace(",", ""))) for u, n in figures]
    links += [(html.unescape(u), int(n.replace(",", ""))) for u, _, n in tiles]
    assert {t for _, t, _ in tiles} >= {"total-count", "untracked-count", "exposed-count"}
    assert len(links) > 20
    for url, number in links:
        assert url.startswith(URL)
        page = page_of(signed_in.get(url))
        assert text_of(page, "result-count") == f"{number} asset{'s' if number != 1 else ''}", url
    # the scope rows of collection health link their live assets too
    assert any(f"scope={s.pk}" in u for u, _ in links for s in source.scopes.all())
