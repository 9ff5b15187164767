"""The asset list and detail: filters, ordering, pagination, what the detail carries, and
attacker-controlled tags coming back intact."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collectors.records import AccessRecord
from inventory.api.filtersets import AssetFilterSet
from inventory.models import OwnershipRule, Team
from tests.api.conftest import BATCH, CLUSTER, OLD_REPORT, PAY_API, WEB
from tests.conftest import (
    BUILD_HOST,
    LOOKALIKE,
    NOW,
    PROD_EKS,
    PROD_EKS_EU,
    RUNS_ON,
    asset,
)


def keys(response):
    assert response.status_code == 200, response.content
    return {row["key"] for row in response.json()["results"]}


@pytest.fixture
def client(api, viewer):
    return api(viewer)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {PAY_API, OLD_REPORT, WEB, BATCH, CLUSTER}),
        ("provider=aws", {PAY_API, OLD_REPORT}),
        ("kind=workload", {BATCH}),
        ("account=shop-prod", {WEB}),
        ("region=europe-west1", {WEB}),
        ("namespace=batch", {BATCH}),
        ("owner=payments", {PAY_API}),
        ("owner=none", {OLD_REPORT, WEB, BATCH, CLUSTER}),
        ("tracking=tracked", {PAY_API}),
        ("tracking=untracked", {OLD_REPORT, WEB, BATCH, CLUSTER}),
        ("exposed=true", {PAY_API}),
        ("exposed=false", {OLD_REPORT, WEB, BATCH, CLUSTER}),
        ("eol=true", {OLD_REPORT}),
        ("has_open_finding=true", {PAY_API, OLD_REPORT, BATCH}),
        ("has_open_finding=false", {WEB, CLUSTER}),
        ("min_severity=3", {PAY_API, OLD_REPORT}),
        ("min_severity=4", {PAY_API}),
        ("first_seen_after=2026-11-02T00:00:00Z", {WEB, BATCH, CLUSTER}),
        ("first_seen_before=2026-11-02T00:00:00Z", {PAY_API, OLD_REPORT}),
        ("first_seen_after=2026-11-02T00:00:00Z&first_seen_before=2026-11-03T00:00:00Z", {WEB}),
        ("label=env=prod", {PAY_API}),
        ("label=env", {PAY_API, OLD_REPORT}),
        ("label=env=staging", set()),
        ("q=PAY", {PAY_API}),
        ("q=namespaces/batch", {BATCH}),
        ("q=pay-api arn:aws", set()),  # the end of a name and the start of its key
        ("provider=aws&tracking=untracked", {OLD_REPORT}),
        ("runs_on=prod", {BATCH}),
        (f"runs_on={CLUSTER}", {BATCH}),
        ("runs_on=nightly", set()),  # a workload, not a cluster
    ],
)
def test_filters(client, estate, query, expected):
    assert keys(client.get(f"/api/v1/assets/?{query}")) == expected


@pytest.mark.parametrize(
    "query", ["min_severity=high", "provider=oracle", "state=deleted", f"runs_on={'x' * 513}"]
)
def test_invalid_filter_values_are_a_400(client, estate, query):
    response = client.get(f"/api/v1/assets/?{query}")

    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"runs_on": PROD_EKS}, RUNS_ON[PROD_EKS]),
        ({"runs_on": "prod-eks"}, RUNS_ON[PROD_EKS] | RUNS_ON[PROD_EKS_EU]),
        ({"runs_on": "prod-eks", "account": "222222222222"}, RUNS_ON[PROD_EKS_EU]),
        ({"runs_on": "build-01.corp.example"}, RUNS_ON[BUILD_HOST]),
        ({"runs_on": LOOKALIKE}, RUNS_ON[LOOKALIKE]),
        ({"runs_on": "prod-eks", "q": "SEARCH"}, RUNS_ON[PROD_EKS_EU]),
        ({"runs_on": "checkout"}, set()),
        ({"runs_on": "nowhere"}, set()),
    ],
)
def test_runs_on_lists_what_runs_on_the_cluster_or_host_as_the_explorer_does(
    client, hosted_estate, params, expected
):
    response = client.get("/api/v1/assets/", params)
    assert keys(response) == expected
    assert response.json()["count"] == len(expected)


def test_the_text_search_is_the_last_filter_applied():
    # it looks its matches up among the other filters' (inventory.search.containing)
    assert list(AssetFilterSet.base_filters)[-1] == "q"


def test_label_keys_are_taken_literally(client, ingest):
    ingest(
        asset("arn:one", labels={"2024": "budget", "a__contains": "x"}),
        asset("arn:two", labels={"env": "prod"}),
    )

    assert keys(client.get("/api/v1/assets/?label=2024=budget")) == {"arn:one"}
    assert keys(client.get("/api/v1/assets/?label=a__contains")) == {"arn:one"}


def test_state_hides_gone_assets_unless_asked(client, ingest):
    ingest(asset("arn:stays"), asset("arn:goes"))
    ingest(asset("arn:stays"), at=NOW + timedelta(hours=1))

    assert keys(client.get("/api/v1/assets/")) == {"arn:stays"}
    assert keys(client.get("/api/v1/assets/?state=live")) == {"arn:stays"}
    assert keys(client.get("/api/v1/assets/?state=gone")) == {"arn:goes"}
    assert keys(client.get("/api/v1/assets/?state=all")) == {"arn:stays", "arn:goes"}


def test_a_gone_asset_detail_is_still_reachable(client, ingest):
    gone = ingest(asset("arn:goes"))["arn:goes"]
    ingest(at=NOW + timedelta(hours=1))

    response = client.get(f"/api/v1/assets/{gone.pk}/")

    assert response.status_code == 200
    assert response.json()["gone_at"] is not None


def test_pagination_walks_every_asset_once(client, ingest):
    ingest(*[asset(f"arn:fn-{i:02}") for i in range(7)])

    first = client.get("/api/v1/assets/?ordering=name&limit=3").json()
    third = client.get("/api/v1/assets/?ordering=name&limit=3&offset=6").json()

    assert first["count"] == 7
    assert [row["name"] for row in first["results"]] == ["fn-00", "fn-01", "fn-02"]
    assert [row["name"] for row in third["results"]] == ["fn-06"]
    assert third["next"] is None
    assert "offset=3" in first["next"]


def test_a_page_reads_its_rows_by_the_ids_it_chose_first(client, ingest):
    """Every page lists what slicing the ordered list would (the whole list, walked in pages
    of 3 in each order), and reads its rows through a subquery of their ids, without joins."""
    ingest(*[asset(f"arn:fn-{i:02}", name=f"fn-{(i * 5) % 4}") for i in range(7)])
    for ordering in ("name", "-name", "-first_seen", ""):
        whole = client.get(f"/api/v1/assets/?ordering={ordering}&limit=7").json()["results"]
        paged = []
        for offset in range(0, 9, 3):
            url = f"/api/v1/assets/?ordering={ordering}&limit=3&offset={offset}"
            with CaptureQueriesContext(connection) as captured:
                paged += client.get(url).json()["results"]
        assert [row["id"] for row in paged] == [row["id"] for row in whole]
        (listing,) = [q["sql"] for q in captured if "LIMIT 3" in q["sql"]]
        ids_first = "= ANY(ARRAY(SELECT" if connection.vendor == "postgresql" else " IN (SELECT"
        assert ids_first in listing and "OFFSET 6" in listing.split("SELECT", 2)[2]


def test_default_page_size_is_50(client, ingest):
    ingest(*[asset(f"arn:fn-{i:02}") for i in range(55)])

    body = client.get("/api/v1/assets/").json()

    assert body["count"] == 55
    assert len(body["results"]) == 50


def test_ordering_by_severity_puts_assets_without_findings_last(client, estate):
    rows = client.get("/api/v1/assets/?ordering=-max_severity").json()["results"]

    assert [r["max_severity"] for r in rows] == [4, 3, 2, None, None]
    assert [r["key"] for r in rows[:3]] == [PAY_API, OLD_REPORT, BATCH]


def test_ordering_by_first_seen(client, estate):
    rows = client.get("/api/v1/assets/?ordering=-first_seen").json()["results"]

    assert {r["key"] for r in rows[:2]} == {BATCH, CLUSTER}
    assert {r["key"] for r in rows[3:]} == {PAY_API, OLD_REPORT}


def test_list_row_shape(client, estate, payments):
    row = next(r for r in client.get("/api/v1/assets/").json()["results"] if r["key"] == PAY_API)

    assert row["owner"] == {"slug": "payments", "name": "Payments"}
    assert row["owner_basis"] == "rule"
    assert row["tracking"] == "tracked"
    assert row["exposed"] is True
    assert row["max_severity"] == 4
    assert row["labels"] == {"team": "payments", "env": "prod"}
    assert row["gone_at"] is None


def test_detail_has_parent_children_history_findings_and_events(client, estate):
    cluster = client.get(f"/api/v1/assets/{estate[CLUSTER].pk}/").json()
    batch = client.get(f"/api/v1/assets/{estate[BATCH].pk}/").json()
    pay_api = client.get(f"/api/v1/assets/{estate[PAY_API].pk}/").json()

    assert cluster["children_count"] == 1
    assert cluster["parent"] is None
    assert batch["parent"] == {"id": estate[CLUSTER].pk, "name": "prod"}
    assert {c["field"] for c in batch["changes"]} >= {"lifecycle", "tracking"}
    assert {f["rule"] for f in batch["findings"]} == {"unpinned-image", "untrusted-registry"}
    assert [e["action"] for e in pay_api["events"]] == ["AddPermission", "UpdateFunctionCode"]
    assert pay_api["endpoints"][0]["address"] == "https://pay.example.com"
    assert pay_api["findings"][0]["title"] == "Unauthenticated internet endpoint"


def test_detail_lists_open_findings_before_resolved_ones(client, ingest):
    # First the image is unpinned and from Docker Hub; then it is pinned, so one finding resolves.
    ingest(asset("arn:svc", kind="container", image="nginx:latest"))
    stored = ingest(
        asset("arn:svc", kind="container", image="nginx:1.27.1"), at=NOW + timedelta(hours=1)
    )

    findings = client.get(f"/api/v1/assets/{stored['arn:svc'].pk}/").json()["findings"]

    assert [(f["rule"], f["status"]) for f in findings] == [
        ("untrusted-registry", "open"),
        ("unpinned-image", "resolved"),
    ]


def test_detail_carries_the_latest_100_events(client, ingest):
    events = [
        AccessRecord(
            event_id=f"e{i}",
            provider="aws",
            occurred_at=NOW - timedelta(minutes=i),
            action=f"Call{i}",
            asset_key="arn:busy",
        )
        for i in range(105)
    ]
    stored = ingest(asset("arn:busy"), *events)

    body = client.get(f"/api/v1/assets/{stored['arn:busy'].pk}/").json()

    assert len(body["events"]) == 100
    assert body["events"][0]["action"] == "Call0"
    assert body["events"][-1]["action"] == "Call99"


HOSTILE_LABELS = {
    "<script>alert('owned')</script>": '"><img src=x onerror=alert(1)>',
    "owner": "Zoë & Søren — 東京チーム 🚀",
    "rtl": "\u202eevil\u202c",
    'quote"key': "back\\slash",
}


def test_html_and_unicode_tags_come_back_byte_for_byte(client, ingest):
    stored = ingest(asset("arn:hostile", name="<b>pay</b> 🚀", labels=HOSTILE_LABELS))
    pk = stored["arn:hostile"].pk

    for url in (f"/api/v1/assets/{pk}/", "/api/v1/assets/?q=pay"):
        response = client.get(url)
        assert response["Content-Type"] == "application/json"
        body = json.loads(response.content.decode("utf-8"))
        row = body if "labels" in body else body["results"][0]
        assert row["labels"] == HOSTILE_LABELS
        assert row["name"] == "<b>pay</b> 🚀"
        # The raw bytes hold the UTF-8 text itself, not HTML entities or a re-encoding.
        assert "東京チーム 🚀".encode() in response.content
        assert b"<script>alert('owned')</script>" in response.content


def test_list_query_count_does_not_grow_with_rows(
    api, viewer, ingest, django_assert_max_num_queries
):
    # Five teams own the assets in turn (by rule), so a missing select_related would show.
    for i in range(5):
        team = Team.objects.create(name=f"Team {i}", slug=f"team-{i}")
        OwnershipRule.objects.create(
            name=f"team {i}", team=team, tag_key="team", tag_value=team.slug
        )
    estate = [asset(f"arn:fn-{i:03}", labels={"team": f"team-{i % 5}"}) for i in range(50)]
    client = api(viewer)

    ingest(*estate[:5])
    with CaptureQueriesContext(connection) as five:
        assert len(client.get("/api/v1/assets/?limit=100").json()["results"]) == 5

    ingest(*estate)
    with django_assert_max_num_queries(len(five.captured_queries)):
        rows = client.get("/api/v1/assets/?limit=100").json()["results"]
    assert len(rows) == 50
    assert {row["owner"]["slug"] for row in rows} == {f"team-{i}" for i in range(5)}
    assert len(five.captured_queries) <= 6
