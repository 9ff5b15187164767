"""The explorer's "Cluster / host" filter (``runs_on``): what runs on a cluster or a Docker
host, by its name or its key; its chip, its saved views, the asset page's way to it, and what a
hostile name or value does to it."""

import csv
import html
import io
import re
from urllib.parse import urlencode

import pytest

from collectors.demo import PROD
from collectors.runner import run_source
from dashboard import paging
from dashboard.models import SavedView
from inventory.ingest import ScopeIngest
from inventory.models import Asset, Source
from tests.conftest import (
    BUILD_HOST,
    LOOKALIKE,
    NOW,
    PLATFORM_SECRET,
    PROD_EKS,
    PROD_EKS_EU,
    RUNS_ON,
    STAGING,
    asset,
)

from .helpers import HOSTILE_IMG, HOSTILE_SCRIPT, page_of, queries_for, text_of
from .test_assets import listed

pytestmark = pytest.mark.django_db
URL = "/assets/"


@pytest.fixture
def signed_in(client, viewer):
    client.force_login(viewer)
    return client


def keys_listed(client, **params) -> set[str]:
    """The keys of the assets the explorer lists for ``params`` (all on one page)."""
    page = page_of(client.get(f"{URL}?{urlencode(params)}"))
    ids = listed(page)
    assert 'rel="next"' not in page
    return set(Asset.objects.filter(pk__in=ids).values_list("key", flat=True))


def count_of(client, url) -> str:
    return text_of(page_of(client.get(url)), "result-count")


CASES = [
    # by key: one cluster, its workloads, their containers and its function
    ({"runs_on": PROD_EKS}, RUNS_ON[PROD_EKS]),
    ({"runs_on": STAGING}, RUNS_ON[STAGING]),
    ({"runs_on": BUILD_HOST}, RUNS_ON[BUILD_HOST]),
    # by name: every cluster so named, whatever its account; the account filter narrows them
    ({"runs_on": "prod-eks"}, RUNS_ON[PROD_EKS] | RUNS_ON[PROD_EKS_EU]),
    ({"runs_on": "prod-eks", "account": "111111111111"}, RUNS_ON[PROD_EKS]),
    ({"runs_on": "prod-eks", "account": "222222222222"}, RUNS_ON[PROD_EKS_EU]),
    ({"runs_on": "staging"}, RUNS_ON[STAGING]),
    ({"runs_on": "build-01.corp.example"}, RUNS_ON[BUILD_HOST]),
    # with the other filters
    (
        {"runs_on": "prod-eks", "kind": "container"},
        {
            "k8s://prod-eks/checkout/app",
            "k8s://prod-eks/checkout/envoy",
            "k8s://prod-eks/ledger/app",
            "k8s://prod-eks-eu/search/app",
        },
    ),
    (
        {"runs_on": PROD_EKS, "q": "checkout"},
        {"k8s://prod-eks/checkout", "k8s://prod-eks/checkout/app", "k8s://prod-eks/checkout/envoy"},
    ),
    # a key is the provider's: a host named like another's key is not taken for it
    ({"runs_on": LOOKALIKE}, RUNS_ON[LOOKALIKE]),
    # a workload is no host, and a name is matched whole
    ({"runs_on": "checkout"}, set()),
    ({"runs_on": "prod"}, set()),
    ({"runs_on": "PROD-EKS"}, set()),
    ({"runs_on": "nowhere"}, set()),
]


@pytest.mark.parametrize(("params", "expected"), CASES, ids=[urlencode(p) for p, _ in CASES])
def test_it_lists_what_runs_on_the_named_cluster_or_host(
    signed_in, hosted_estate, params, expected
):
    assert keys_listed(signed_in, **params) == expected
    count = len(expected)
    url = f"{URL}?{urlencode(params)}"
    assert count_of(signed_in, url) == f"{count} asset{'s' if count != 1 else ''}"
    page = page_of(signed_in.get(url))
    assert "Ignored" not in page
    assert ("No assets match these filters." in page) == (not expected)


def test_never_the_host_itself_nor_what_runs_elsewhere(signed_in, hosted_estate):
    for host in (PROD_EKS, PROD_EKS_EU, STAGING, BUILD_HOST):
        found = keys_listed(signed_in, runs_on=host)
        assert host not in found
        others = set().union(*(keys for key, keys in RUNS_ON.items() if key != host))
        assert not found & others
    # the same-named workload and its container, and the look-alike host's container
    found = keys_listed(signed_in, runs_on="prod-eks")
    assert not found & {"run://prod-eks", "run://prod-eks/app", f"{LOOKALIKE}/miner"}


def test_gone_assets_are_listed_only_when_asked_for(signed_in, hosted_estate):
    Asset.objects.filter(key="k8s://prod-eks/ledger/app").update(gone_at=NOW)
    assert "k8s://prod-eks/ledger/app" not in keys_listed(signed_in, runs_on="prod-eks")
    assert keys_listed(signed_in, runs_on="prod-eks", state="gone") == {"k8s://prod-eks/ledger/app"}
    assert keys_listed(signed_in, runs_on=PROD_EKS, state="all") == RUNS_ON[PROD_EKS]


def test_the_chip_reads_runs_on_and_removes_the_filter_alone(signed_in, hosted_estate):
    page = page_of(
        signed_in.get(f"{URL}?{urlencode({'runs_on': 'prod-eks', 'kind': 'container'})}")
    )
    chips = page.split('data-testid="chips"')[1].split("</ul>")[0]
    assert (
        '<span class="chip-label">Runs on</span><span class="chip-value">prod-eks</span>' in chips
    )
    assert 'aria-label="Remove the filter Runs on: prod-eks"' in chips
    removals = [html.unescape(u) for u in re.findall(r'class="chip-remove" href="([^"]+)"', chips)]
    assert sorted(removals) == ["?kind=container", "?runs_on=prod-eks"]
    # the form shows it, under "More filters", open
    assert '<label for="id_runs_on">Cluster / host</label>' in page
    assert 'name="runs_on" id="id_runs_on" value="prod-eks" maxlength="512"' in page
    assert '<details class="more-filters" open>' in page


def test_a_saved_view_keeps_the_filter_and_lists_the_same(signed_in, hosted_estate):
    query = urlencode({"runs_on": PROD_EKS, "account": "111111111111"})
    response = signed_in.post("/assets/views/", {"name": "Prod EKS", "query": query})
    view = SavedView.objects.get()
    # saved as the explorer writes its own URL: the filters in the form's order
    assert view.query == urlencode({"account": "111111111111", "runs_on": PROD_EKS})
    assert response["Location"] == f"{URL}?{view.query}"
    page = page_of(signed_in.get(response["Location"]))
    assert 'data-testid="current-view">· Prod EKS<' in page
    found = Asset.objects.filter(pk__in=listed(page)).values_list("key", flat=True)
    assert set(found) == RUNS_ON[PROD_EKS]
    # and its export lists the same
    export = html.unescape(re.search(r'<a href="([^"]+)" data-testid="export-csv"', page).group(1))
    assert export == f"export.csv?{view.query}"
    assert keys_exported(signed_in, URL + export) == RUNS_ON[PROD_EKS]


@pytest.mark.parametrize("host", [PROD_EKS, BUILD_HOST])
def test_a_host_page_leads_to_as_many_in_the_explorer(signed_in, hosted_estate, host):
    page = page_of(signed_in.get(hosted_estate[host].get_absolute_url()))
    count = len(RUNS_ON[host])
    match = re.search(r'<a href="([^"]+)" data-testid="running-on">([^<]+)</a>', page)
    assert match.group(2) == f"All {count} running on it in the explorer"
    url = html.unescape(match.group(1))
    assert url == f"{URL}?{urlencode({'runs_on': host})}"
    assert count_of(signed_in, url) == f"{count} assets"


def test_only_hosts_pages_lead_there(signed_in, hosted_estate):
    for key in ("k8s://prod-eks/checkout", "k8s://prod-eks/checkout/app", "run://prod-eks"):
        page = page_of(signed_in.get(hosted_estate[key].get_absolute_url()))
        assert 'data-testid="running-on"' not in page, key


def test_the_link_says_when_it_counted_no_further(signed_in, hosted_estate, monkeypatch):
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    page = page_of(signed_in.get(hosted_estate[PROD_EKS].get_absolute_url()))
    assert ">More than 3 running on it in the explorer</a>" in page


# --- what may not pass ----------------------------------------------------------------------


def test_hostile_names_and_values_are_escaped(signed_in, scope_run):
    key = f"k8s://{HOSTILE_IMG}"
    job = ScopeIngest(scope_run("hostile"))
    job.add(asset(key, name=HOSTILE_SCRIPT, kind="cluster", provider="kubernetes"))
    job.add(asset(f"{key}/app", name="app", kind="workload", parent_key=key))
    job.finish(complete=True)
    for value in (HOSTILE_SCRIPT, key):
        page = page_of(signed_in.get(f"{URL}?{urlencode({'runs_on': value})}"))
        assert len(listed(page)) == 1
        assert "<script>alert" not in page and "<img src=x" not in page
        # the field, the chip and the chip's label for removing it
        assert page.count(html.escape(value)) >= 3
    page = page_of(signed_in.get(f"{URL}?{urlencode({'runs_on': HOSTILE_IMG})}"))
    assert "<img src=x" not in page and html.escape(HOSTILE_IMG) in page
    assert "No assets match these filters." in page
    # the cluster's page links to the explorer by its key, which leads to the same
    page = page_of(signed_in.get(Asset.objects.get(key=key).get_absolute_url()))
    assert "<script>alert" not in page and "<img src=x" not in page
    link = re.search(r'<a href="([^"]+)" data-testid="running-on">All 1 running', page)
    assert len(listed(page_of(signed_in.get(html.unescape(link.group(1)))))) == 1


@pytest.mark.parametrize(
    "value",
    ["x" * 513, "prod\x00eks"],
    ids=["longer than any key", "NUL"],
)
def test_a_value_no_host_can_have_is_dropped_and_said_so(signed_in, hosted_estate, value):
    page = page_of(signed_in.get(f"{URL}?{urlencode({'runs_on': value, 'kind': 'cluster'})}"))
    assert "Ignored 1 filter that did not make sense" in page and "Runs on" in page
    assert text_of(page, "result-count") == "3 assets"  # the clusters, unfiltered by host


def test_a_value_like_sql_or_a_pattern_is_a_name_like_any_other(signed_in, hosted_estate):
    for value in ("prod-eks' OR '1'='1", "prod%", "prod-ek_", "%", "*"):
        assert keys_listed(signed_in, runs_on=value) == set(), value


def test_a_scoped_reconciler_never_has_another_teams_cluster_confirmed(
    client, scoped_estate, platform_ledger, reconciler, viewer
):
    """Platform's cluster holds an unowned workload, in the reconciler's scope; the cluster
    itself is not, so naming it (or its key) lists nothing, as its page and the workload's
    parent are not shown them either."""
    platform_ledger(1)
    name, key = f"{PLATFORM_SECRET}-cluster", f"k8s://{PLATFORM_SECRET}"
    client.force_login(viewer)
    assert (
        keys_listed(client, runs_on=name)
        == keys_listed(client, runs_on=key)
        == {"k8s://uid/0f1e2d3c"}
    )
    client.force_login(reconciler)
    for value in (name, key):
        assert keys_listed(client, runs_on=value) == set()


def test_the_lists_queries_do_not_grow_with_the_hosts(
    signed_in, estate, django_assert_max_num_queries
):
    estate("small", {"acct-0": 3})
    urls = [
        f"{URL}?runs_on=cluster-acct-0",
        f"{URL}?runs_on=cluster%3A%2F%2Facct-0&q=fn&sort=-severity",
        Asset.objects.get(key="cluster://acct-0").get_absolute_url(),
    ]
    small = {url: queries_for(signed_in, url) for url in urls}

    estate("small", {"acct-0": 60, **{f"acct-{n}": 30 for n in range(1, 4)}})
    Asset.objects.filter(kind="cluster").update(name="cluster")  # one name, four clusters
    for url, budget in small.items():
        with django_assert_max_num_queries(budget):
            signed_in.get(url)
    with django_assert_max_num_queries(small[urls[0]]):
        page = page_of(signed_in.get(f"{URL}?runs_on=cluster"))
    assert text_of(page, "result-count") == "150 assets"
    assert len(listed(page)) == 50


def test_the_demo_estate_lists_a_services_containers_on_its_cluster(signed_in, db):
    """The demo's ECS clusters are named "prod" in two regions of one account: both are
    listed by that name, each by its key, and every container is under a service."""
    demo = Source.objects.create(name="demo", provider="demo", config={"seed": 2})
    run_source(demo, at=NOW)
    clusters = Asset.objects.filter(kind="cluster", name="prod")
    assert {(c.account, c.region) for c in clusters} == {
        (PROD, "us-east-1"),
        (PROD, "eu-west-1"),
    }
    everything = set()
    for cluster in clusters:
        services = set(cluster.children.values_list("key", flat=True))
        containers = set(Asset.objects.filter(parent__parent=cluster).values_list("key", flat=True))
        assert services and containers
        assert keys_listed_all(signed_in, cluster.key) == services | containers
        everything |= services | containers
    assert keys_listed_all(signed_in, "prod") == everything


def keys_exported(client, url) -> set[str]:
    """Every key the explorer's CSV export at ``url`` lists (it has no pages)."""
    text = b"".join(client.get(url).streaming_content).decode()
    return {row["key"] for row in csv.DictReader(io.StringIO(text))}


def keys_listed_all(client, host) -> set[str]:
    return keys_exported(client, f"{URL}export.csv?{urlencode({'runs_on': host})}")
