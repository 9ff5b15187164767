"""Access history (searchable, per actor) and versions (runtimes, platforms, images, EOL)."""

import html
import re
from datetime import timedelta

import pytest

from collectors.records import AccessRecord
from inventory.ingest import ScopeIngest
from inventory.models import AccessEvent, Asset
from inventory.selectors import split_image
from tests.conftest import NOW, asset

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
ACCESS, VERSIONS = "/access/", "/versions/"


def events_in(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-event="(\d+)"', page)]


def test_access_history_lists_every_event_newest_first(client, viewer, estate):
    estate("prod", {"acct-a": 4})
    estate("prod", {"acct-a": 4}, release=2, at=NOW + timedelta(hours=1))
    client.force_login(viewer)
    page = page_of(client.get(ACCESS))
    expected = list(
        AccessEvent.objects.order_by("-occurred_at", "-id").values_list("id", flat=True)
    )
    assert events_in(page) == expected and len(expected) == 8
    assert text_of(page, "event-count") == "8 events"
    fn = Asset.objects.get(key="fn://acct-a/2")
    assert f'<a href="/assets/{fn.pk}/">fn-0002</a>' in page
    assert "198.51.100.7" in page


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("actor=deployer-1%40example.com", 2),
        ("q=deployer-1", 2),
        ("q=UPDATEFUNCTION", 8),
        ("action=UpdateFunctionCode&provider=aws", 8),
        ("provider=gcp", 0),
        ("q=fn://acct-a/3", 2),
        ("until=2000-01-01", 0),
    ],
)
def test_access_history_filters(client, viewer, estate, query, count):
    estate("prod", {"acct-a": 4})
    estate("prod", {"acct-a": 4}, release=2, at=NOW + timedelta(hours=1))
    client.force_login(viewer)
    assert len(events_in(page_of(client.get(f"{ACCESS}?{query}")))) == count


def test_one_actors_view_says_what_it_touched(client, viewer, estate, scope_run):
    estate("prod", {"acct-a": 4})
    ingest = ScopeIngest(scope_run("acct-a"))
    target = Asset.objects.get(key="fn://acct-a/1")
    for n in range(3):
        ingest.add(
            AccessRecord(
                event_id=f"extra-{n}",
                provider="aws",
                occurred_at=NOW - timedelta(days=n),
                action="InvokeFunction",
                asset_key=target.key,
                actor="deployer-1@example.com",
                source_ip="203.0.113.9",
            )
        )
    ingest.finish(complete=False)
    client.force_login(viewer)
    page = page_of(client.get(f"{ACCESS}?actor=deployer-1%40example.com"))
    assert text_of(page, "actor") == "deployer-1@example.com"
    assert text_of(page, "actor-events") == "4"
    assert text_of(page, "actor-assets") == "1"
    assert "InvokeFunction" in page and "203.0.113.9" in page
    touched = page.split('data-testid="actor-touched"')[1].split("</table>")[0]
    assert f'href="/assets/{target.pk}/">fn-0001</a>' in touched and ">4</td>" in touched


def test_access_queries_do_not_grow(client, viewer, estate, django_assert_max_num_queries):
    estate("prod", {"acct-a": 2})
    client.force_login(viewer)
    actor = "?actor=deployer-1%40example.com"
    small = max(queries_for(client, ACCESS), queries_for(client, ACCESS + actor))
    assert small <= PAGE_BUDGET
    for release in range(2, 5):
        estate("prod", {"acct-a": 2, "acct-b": 40}, release=release)
    for url in (ACCESS, ACCESS + actor):
        with django_assert_max_num_queries(small):
            page_of(client.get(url))


def test_hostile_event_fields_are_text(client, viewer, scope_run):
    ingest_hostile_asset(scope_run)
    client.force_login(viewer)
    for url in (ACCESS, f"{ACCESS}?actor={html.escape(HOSTILE_SCRIPT)}"):
        page = page_of(client.get(url))
        assert "<script>alert" not in page and "<img src=x" not in page
    page = page_of(client.get(ACCESS))
    assert html.escape(HOSTILE_SCRIPT) in page and html.escape(HOSTILE_IMG) in page


# --- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "split"),
    [
        ("nginx", ("nginx", "")),
        ("nginx:1.27", ("nginx", "1.27")),
        ("registry:5000/team/api", ("registry:5000/team/api", "")),
        ("registry:5000/team/api:2.1@sha256:abc", ("registry:5000/team/api", "2.1")),
        ("ghcr.io/acme/api@sha256:abc", ("ghcr.io/acme/api", "")),
    ],
)
def test_split_image_separates_repository_and_tag(image, split):
    assert split_image(image) == split


def ingest_versions(scope_run):
    ingest = ScopeIngest(scope_run())
    records = [
        asset("fn:old", runtime="nodejs14.x"),
        asset("fn:old2", runtime="nodejs14.x"),
        asset("fn:new", runtime="python3.12"),
        asset("c:1", kind="container", image="ghcr.io/acme/api:1.0", image_digest="sha256:a"),
        asset("c:2", kind="container", image="ghcr.io/acme/api:1.1", image_digest="sha256:b"),
        asset("c:3", kind="container", image="ghcr.io/acme/api:1.1", image_digest="sha256:b"),
        asset("c:4", kind="container", image="nginx:latest"),
        asset("k:1", kind="cluster", provider="kubernetes", platform_version="1.24.3"),
        asset("k:2", kind="cluster", provider="kubernetes", platform_version="v1.31.2-eks"),
    ]
    for record in records:
        ingest.add(record)
    ingest.finish(complete=True)


def test_versions_show_runtimes_platforms_and_images_with_eol_first(client, viewer, scope_run):
    ingest_versions(scope_run)
    client.force_login(viewer)
    page = page_of(client.get(VERSIONS))
    runtimes = page.split('data-testid="runtimes"')[1].split("</table>")[0]
    rows = re.findall(r'data-runtime="([^"]+)"', runtimes)
    assert rows == ["nodejs14.x", "python3.12"]  # end of life first
    old = runtimes.split('data-runtime="nodejs14.x"')[1].split("</tr>")[0]
    assert (
        "marker-eol" in old and 'href="/assets/?runtime=nodejs14.x&amp;kind=function">2</a>' in old
    )
    platforms = page.split('data-testid="platforms"')[1].split("</table>")[0]
    assert re.findall(r'data-version="([^"]+)"', platforms) == ["1.24.3", "v1.31.2-eks"]
    assert "marker-eol" in platforms.split('data-version="1.24.3"')[1].split("</tr>")[0]
    images = page.split('data-testid="images"')[1].split("</table>")[0]
    api = images.split('data-repository="ghcr.io/acme/api"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(?:<a[^>]*>)?(\d+)', api) == ["3", "2", "2"]
    assert 'href="/assets/?image=ghcr.io%2Facme%2Fapi">3</a>' in api
    nginx = images.split('data-repository="nginx"')[1].split("</tr>")[0]
    assert "1 unpinned" in nginx


def test_every_versions_number_opens_exactly_that_list(client, viewer, scope_run):
    ingest_versions(scope_run)
    client.force_login(viewer)
    page = page_of(client.get(VERSIONS))
    links = re.findall(r'<a class="figure" href="([^"]+)">(\d+)</a>', page)
    assert len(links) >= 6
    for url, number in links:
        listed = page_of(client.get(html.unescape(url)))
        assert text_of(listed, "result-count") == f"{number} asset{'s' if number != '1' else ''}"


def test_versions_queries_do_not_grow(client, viewer, estate, django_assert_max_num_queries):
    estate("prod", {"acct-a": 2})
    client.force_login(viewer)
    small = queries_for(client, VERSIONS)
    assert small <= PAGE_BUDGET
    estate("prod", {"acct-a": 2, "acct-b": 60}, release=3)
    with django_assert_max_num_queries(small):
        page_of(client.get(VERSIONS))
