"""Whole Google Cloud collections through the real client libraries, a local API server and the
shared ingest path."""

import json

import pytest
from django.core.management import call_command

from collectors.runner import run_source
from inventory.models import (
    AccessEvent,
    Asset,
    AssetChange,
    Finding,
    OwnershipRule,
    RunStatus,
    Scope,
    Source,
    Team,
)
from tests.conftest import NOW

pytestmark = pytest.mark.django_db

EU = "projects/acme-prod/locations/europe-west1"
CHECKOUT = f"//cloudfunctions.googleapis.com/{EU}/functions/checkout-webhook"
US = "projects/acme-prod/locations/us-central1"
LEGACY = f"//cloudfunctions.googleapis.com/{US}/functions/legacy-report"
STOREFRONT = f"//run.googleapis.com/{EU}/services/storefront"
CHECKOUT_SERVICE = f"//run.googleapis.com/{EU}/services/checkout-webhook"
PROD_GKE = f"//container.googleapis.com/{EU}/clusters/prod-gke"
PRIVATE_GKE = (
    "//container.googleapis.com/projects/acme-prod/locations/europe-west1-b/clusters/private-gke"
)
LOCKED = "projects/acme-locked/locations/us-central1"
VAULT_SYNC = f"//cloudfunctions.googleapis.com/{LOCKED}/functions/vault-sync"


@pytest.fixture
def teams():
    payments = Team.objects.create(name="payments", slug="payments")
    platform = Team.objects.create(name="platform", slug="platform")
    OwnershipRule.objects.create(
        name="payments tag", team=payments, tag_key="team", tag_value="payments"
    )
    OwnershipRule.objects.create(
        name="gcp platform", team=platform, provider="gcp", tag_key="team", tag_value="platform"
    )
    return payments, platform


def gcp_source(fake, key_file, **config):
    return Source.objects.create(
        name="gcp-acme",
        provider="gcp",
        endpoint_url=fake.url,
        config={"projects": ["acme-prod", "acme-locked"], "credentials_file": key_file, **config},
    )


def alive(key):
    return Asset.objects.get(key=key, gone_at__isnull=True)


def test_a_project_is_collected_with_owners_exposure_versions_and_access(fake_gcp, key_file, teams):
    payments, platform = teams
    source = gcp_source(fake_gcp, key_file)
    source.full_clean()  # the config a person would write passes the sources-file checks

    run = run_source(source, at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.new == 11 and run.events == 7
    checkout = alive(CHECKOUT)
    assert checkout.runtime == "python3.12" and checkout.owner == payments
    assert checkout.tracking == "tracked" and checkout.exposed
    rules = set(
        Finding.objects.filter(asset=checkout, status="open").values_list("rule", flat=True)
    )
    assert {"unauthenticated-endpoint", "secret-env-names"} <= rules

    storefront = alive(STOREFRONT)
    assert storefront.tracking == "untracked" and storefront.owner is None
    assert storefront.creator == "dev.intern@acme.example"
    assert Finding.objects.filter(asset=storefront, rule="unauthenticated-endpoint").exists()
    assert Finding.objects.filter(asset=storefront, rule="unpinned-image").exists()
    # Hostile labels are stored as data: the NUL the database cannot hold is replaced.
    assert storefront.labels["team\ufffdevil"] == "'; DROP TABLE inventory_asset;--"
    # Deployed by tag; the digest is the one the revision taking most traffic resolved.
    assert storefront.image == "docker.io/library/nginx:latest"
    assert storefront.image_digest == "sha256:" + "a1" * 32
    sidecar = alive(f"{STOREFRONT}/containers/sidecar")
    assert sidecar.kind == "container" and sidecar.parent == storefront
    assert sidecar.image_digest == "sha256:" + "b2" * 32
    assert sidecar.attributes["role"] == "sidecar"
    assert alive(f"{STOREFRONT}/containers/web").attributes["role"] == "ingress"
    assert alive(CHECKOUT_SERVICE).image_digest == "sha256:" + "c3" * 32

    legacy = alive(LEGACY)
    assert legacy.runtime == "python3.8" and legacy.eol and not legacy.exposed
    cluster = alive(PROD_GKE)
    assert cluster.platform_version == "1.29.8-gke.1031000" and cluster.owner == platform
    assert {"platform-eol", "public-endpoint"} <= set(
        Finding.objects.filter(asset=cluster).values_list("rule", flat=True)
    )
    assert alive(CHECKOUT_SERVICE).parent == checkout
    assert alive(VAULT_SYNC).account == "acme-locked"

    events = {e.event_id: e for e in AccessEvent.objects.select_related("asset")}
    assert set(events) == {
        "1x2y3z4a5b6c",
        "-7h3k9d2a1",
        "a9b8c7d6e5",
        "gke-0042",
        "gke-create-denied",
        "gke-create-1",
        "fn1-create-7q",
    }
    assert events["1x2y3z4a5b6c"].asset == checkout
    assert events["1x2y3z4a5b6c"].actor == "maria.garcia@acme.example"
    assert events["-7h3k9d2a1"].asset == storefront and events["gke-0042"].asset == cluster
    assert events["gke-0042"].outcome == "failure"
    # Creators by the create calls in the audit log: a denied attempt creates nothing.
    assert checkout.creator == "maria.garcia@acme.example"
    assert legacy.creator == "ops@acme.example"
    assert alive(PRIVATE_GKE).creator == "terraform@acme-prod.iam.gserviceaccount.com"
    assert cluster.creator == ""  # created before the history that was read
    assert Scope.objects.get(key="gcp/acme-prod").cursor == {
        "audit_since": "2026-10-31T15:00:00.000000Z",
        "creators": {
            CHECKOUT: "maria.garcia@acme.example",
            LEGACY: "ops@acme.example",
            PRIVATE_GKE: "terraform@acme-prod.iam.gserviceaccount.com",
        },
    }

    stored = json.dumps(list(Asset.objects.values("labels", "security", "attributes", "endpoints")))
    stored += json.dumps(list(AccessEvent.objects.values("detail")))
    assert "sk_live" not in stored and "tok_never" not in stored and "LS0tLS1CRUdJTi" not in stored

    functions_pages = [p for m, p, _ in fake_gcp.requests if p.endswith("/locations/-/functions")]
    assert len(functions_pages) == 3  # acme-prod's two pages, acme-locked's one
    assert all(auth.startswith("Bearer ") for _, _, auth in fake_gcp.requests)


def test_a_second_run_changes_nothing_and_a_deleted_service_is_gone(fake_gcp, key_file, teams):
    source = gcp_source(fake_gcp, key_file)
    run_source(source, at=NOW)

    again = run_source(source, at=NOW)
    assert again.status == RunStatus.SUCCEEDED, again.error
    assert (again.new, again.changed, again.gone, again.events) == (0, 0, 0, 0)
    # The create calls were not read again; the creators were kept from the last run.
    assert alive(PRIVATE_GKE).creator == "terraform@acme-prod.iam.gserviceaccount.com"

    services = fake_gcp.project("acme-prod")["services"]
    services[:] = [s for s in services if not s["name"].endswith("/storefront")]
    third = run_source(source, at=NOW)
    assert (third.new, third.changed, third.gone) == (0, 0, 3)  # the service, its 2 containers
    storefront = Asset.objects.get(key=STOREFRONT)
    assert storefront.gone_at is not None and not storefront.exposed
    assert AssetChange.objects.filter(asset=storefront, field="lifecycle", new="gone").exists()
    assert not Finding.objects.filter(asset=storefront, status="open").exists()


def test_a_forbidden_project_fails_alone_and_keeps_its_assets(fake_gcp, key_file, teams):
    source = gcp_source(fake_gcp, key_file)
    run_source(source, at=NOW)

    fake_gcp.forbidden.add("acme-locked")
    functions = fake_gcp.project("acme-prod")["functions"]
    functions[:] = [f for f in functions if not f["name"].endswith("/thumbnailer")]
    run = run_source(source, at=NOW)

    assert run.status == RunStatus.PARTIAL
    scope_runs = {s.scope.key: s for s in run.scope_runs.select_related("scope")}
    locked = scope_runs["gcp/acme-locked"]
    assert locked.status == RunStatus.FAILED
    assert "logging:ListLogEntries acme-locked: 403" in locked.error  # read first
    assert scope_runs["gcp/acme-prod"].status == RunStatus.SUCCEEDED
    assert scope_runs["gcp/acme-prod"].gone == 1
    assert alive(VAULT_SYNC)  # not marked gone: its project could not be read
    assert "gcp/acme-locked" in run.error


def test_throttling_is_retried(fake_gcp, key_file):
    fake_gcp.throttle.update(
        {"/locations/-/functions": 1, "/v2/entries:list": 1, "/services": 1, "/revisions/": 1}
    )
    source = gcp_source(fake_gcp, key_file, projects=["acme-prod"])

    run = run_source(source, at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Asset.objects.filter(gone_at__isnull=True).count() == 10
    assert run.events == 7
    assert set(fake_gcp.throttle.values()) == {0}


def test_every_request_the_server_received_is_counted_with_its_throttled_answers(
    fake_gcp, key_file
):
    """Through the generated REST clients and the plain session alike; api_core's retries after
    a 429 are requests of their own."""
    fake_gcp.throttle.update({"/locations/-/functions": 1, "/v2/entries:list": 1, "/services": 2})
    source = gcp_source(fake_gcp, key_file, projects=["acme-prod"])

    run = run_source(source, at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    (read,) = run.scope_runs.all()
    paths = {path for _, path, _ in fake_gcp.requests}
    assert any(p.endswith("/v2/entries:list") for p in paths)  # the session's
    assert any(p.endswith("/locations/-/functions") for p in paths)  # a generated client's
    assert read.api_calls == len(fake_gcp.requests) > 10
    assert read.throttled == 4
    assert set(fake_gcp.throttle.values()) == {0}  # every 429 was answered


def test_an_organization_source_lists_its_projects_as_accounts_and_scopes(fake_gcp, key_file):
    # Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, set by key_file).
    source = Source.objects.create(
        name="gcp-org",
        provider="gcp",
        endpoint_url=fake_gcp.url,
        config={"organization": "1234", "access_history": False},
    )
    fake_gcp.forbidden.add("acme-locked")

    run = run_source(source, at=NOW)

    keys = set(run.scope_runs.values_list("scope__key", flat=True))
    assert keys == {"gcp/resource-manager", "gcp/acme-prod", "gcp/acme-locked", "gcp/acme-shadow"}
    accounts = Asset.objects.filter(kind="account")
    assert set(accounts.values_list("name", flat=True)) == {
        "acme-prod",
        "acme-locked",
        "acme-retired",
        "acme-shadow",
    }
    assert accounts.get(name="acme-retired").state == "DELETE_REQUESTED"
    assert accounts.get(name="acme-shadow").attributes["parent"] == "folders/5678"
    assert not AccessEvent.objects.exists()
    assert Asset.objects.filter(account="acme-prod", kind="cluster").count() == 2


def test_manage_py_collect_reads_the_source(fake_gcp, key_file, capsys):
    gcp_source(fake_gcp, key_file, projects=["acme-prod"], history_days=400)

    call_command("collect", "--source", "gcp-acme")

    assert Asset.objects.filter(provider="gcp", gone_at__isnull=True).count() == 10
    assert AccessEvent.objects.filter(provider="gcp").count() == 7
    assert "gcp-acme" in capsys.readouterr().out
