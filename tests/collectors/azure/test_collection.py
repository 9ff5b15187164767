"""Whole Azure collections through the real ARM client libraries, a local HTTPS server and the
shared ingest path."""

import json

import pytest

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

from .fake_arm import LOCKED, PROD

pytestmark = pytest.mark.django_db

SUB = f"/subscriptions/{PROD}/resourcegroups"
CHECKOUT = f"{SUB}/payments-rg/providers/microsoft.web/sites/checkout-func"
PROMO = f"{SUB}/marketing-rg/providers/microsoft.web/sites/promo-hooks"
AKS_PROD = f"{SUB}/platform-rg/providers/microsoft.containerservice/managedclusters/aks-prod"
NOTEBOOK = f"{SUB}/data-rg/providers/microsoft.containerinstance/containergroups/notebook-demo"
STAGING = f"{CHECKOUT}/slots/staging"
SSO_ADMIN = f"{SUB}/identity-rg/providers/microsoft.web/sites/sso-admin"
AKS_PRIVATE = f"{SUB}/identity-rg/providers/microsoft.containerservice/managedclusters/aks-private"
VAULT_UI = (
    f"/subscriptions/{LOCKED}/resourcegroups/identity-rg/providers/microsoft.web/sites/vault-ui"
)
SECRETS = ("sk_live", "tok_never", "pw_never", "AccountKey", "jt_never", "reg_never", "P@ssw0rd")


@pytest.fixture
def teams():
    payments = Team.objects.create(name="payments", slug="payments")
    platform = Team.objects.create(name="platform", slug="platform")
    OwnershipRule.objects.create(
        name="payments", team=payments, tag_key="team", tag_value="payments"
    )
    OwnershipRule.objects.create(
        name="platform rg", team=platform, provider="azure", namespace="platform-rg"
    )
    return payments, platform


def azure_source(fake, **config):
    return Source.objects.create(
        name="azure-acme",
        provider="azure",
        endpoint_url=fake.url,
        config={"subscriptions": [PROD, LOCKED], **config},
    )


def alive(key):
    return Asset.objects.get(key=key, gone_at__isnull=True)


def test_a_subscription_is_collected_with_owners_exposure_versions_and_access(
    fake_arm, credential, teams
):
    payments, platform = teams
    source = azure_source(fake_arm)
    source.full_clean()

    run = run_source(source, at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.new, run.events) == (13, 4)
    checkout = alive(CHECKOUT)
    assert checkout.kind == "function" and checkout.runtime == "python3.11"
    assert checkout.owner == payments and checkout.exposed
    assert checkout.creator == "maria.garcia@acme.example"
    rules = set(Finding.objects.filter(asset=checkout).values_list("rule", flat=True))
    assert {"unauthenticated-endpoint", "secret-env-names"} <= rules

    # Easy Auth on but letting anonymous callers through: the endpoint stays unauthenticated.
    assert {e["auth"] for e in checkout.endpoints} >= {"none"}
    assert checkout.attributes["easy_auth"]["action"] == "AllowAnonymous"
    sso = alive(SSO_ADMIN)
    assert [e["auth"] for e in sso.endpoints] == ["aad,oidc"]
    assert not Finding.objects.filter(asset=sso, rule="unauthenticated-endpoint").exists()
    # A deployment slot is an app of its own under its app, with its own runtime and exposure.
    staging = alive(STAGING)
    assert staging.parent == checkout and staging.name == "checkout-func/staging"
    assert staging.runtime == "python3.8" and staging.eol and staging.exposed
    assert staging.creator == "dev.intern@acme.example"
    assert staging.endpoints[0]["address"] == ("https://checkout-func-staging.azurewebsites.net")
    assert staging.labels["<img src=x onerror=alert(1)>"] == "\"><script>alert('slot')</script>"

    promo = alive(PROMO)
    assert promo.runtime == "nodejs14" and promo.eol and promo.tracking == "untracked"
    cluster = alive(AKS_PROD)
    assert cluster.platform_version == "1.28.9" and cluster.owner == platform
    assert {"platform-eol", "public-endpoint"} <= set(
        Finding.objects.filter(asset=cluster).values_list("rule", flat=True)
    )
    # Kubernetes audit logs: aks-prod sends none anywhere, aks-private sends the audit group.
    assert cluster.security["audit_logging"] is False
    assert Finding.objects.filter(asset=cluster, rule="no-audit-logging").exists()
    assert alive(AKS_PRIVATE).security["audit_logging"] is True
    assert not Finding.objects.filter(asset__key=AKS_PRIVATE, rule="no-audit-logging").exists()
    notebook = alive(NOTEBOOK)
    jupyter = alive(f"{NOTEBOOK}/containers/jupyter")
    assert jupyter.parent == notebook and notebook.exposed
    assert {"privileged", "runs-as-root", "unpinned-image"} <= set(
        Finding.objects.filter(asset=jupyter).values_list("rule", flat=True)
    )
    # Hostile tags are data: kept as written, the NUL the database cannot hold replaced.
    assert notebook.labels["<script>alert(1)</script>"] == "x\ufffdy"
    assert notebook.labels["owner"] == "$(rm -rf /) `id`"
    assert alive(VAULT_UI).account == LOCKED

    events = {e.event_id[-1]: e for e in AccessEvent.objects.select_related("asset")}
    assert set(events) == {"2", "3", "4", "5"}
    assert events["2"].asset == checkout and events["2"].actor == "maria.garcia@acme.example"
    assert events["3"].asset == promo  # reported on a child resource in another casing
    assert events["4"].asset == cluster and events["4"].outcome == "failure"
    assert events["5"].asset == notebook
    assert Scope.objects.get(key=f"azure/{PROD}").cursor == {
        "activity_since": "2026-10-31T09:00:00.000000Z"
    }

    stored = json.dumps(list(Asset.objects.values("labels", "security", "attributes", "endpoints")))
    stored += json.dumps(list(AccessEvent.objects.values("detail")))
    assert not [secret for secret in SECRETS if secret in stored]
    assert {scopes for scopes in credential.scopes} == {("https://management.azure.com/.default",)}
    site_pages = {  # the subscriptions are read at once, so their requests interleave
        subscription: [
            q.get("$skiptoken")
            for _, p, q in fake_arm.requests
            if p == f"/subscriptions/{subscription}/providers/Microsoft.Web/sites"
        ]
        for subscription in (PROD, LOCKED)
    }
    assert site_pages == {PROD: [None, "2"], LOCKED: [None]}  # PROD paged
    activity = [q for _, p, q in fake_arm.requests if p.endswith("/management/values")]
    assert all("claims" not in q["$select"] for q in activity)


def test_a_second_run_changes_nothing_and_a_deleted_group_is_gone(fake_arm, credential, teams):
    source = azure_source(fake_arm)
    run_source(source, at=NOW)

    again = run_source(source, at=NOW)
    assert again.status == RunStatus.SUCCEEDED, again.error
    assert (again.new, again.changed, again.gone, again.events) == (0, 0, 0, 0)

    groups = fake_arm.subscription(PROD)["groups"]
    groups[:] = [g for g in groups if g["name"] != "notebook-demo"]
    third = run_source(source, at=NOW)
    assert (third.new, third.changed, third.gone) == (0, 0, 2)  # the group and its container
    notebook = Asset.objects.get(key=NOTEBOOK)
    assert notebook.gone_at is not None
    assert AssetChange.objects.filter(asset=notebook, field="lifecycle", new="gone").exists()
    assert not Finding.objects.filter(asset__key__startswith=NOTEBOOK, status="open").exists()


def test_a_forbidden_subscription_fails_alone_and_keeps_its_assets(fake_arm, credential):
    source = azure_source(fake_arm)
    run_source(source, at=NOW)

    fake_arm.forbidden.add(LOCKED)
    clusters = fake_arm.subscription(PROD)["clusters"]
    clusters[:] = [c for c in clusters if c["name"] != "aks-private"]
    run = run_source(source, at=NOW)

    assert run.status == RunStatus.PARTIAL
    scope_runs = {s.scope.key: s for s in run.scope_runs.select_related("scope")}
    locked = scope_runs[f"azure/{LOCKED}"]
    assert locked.status == RunStatus.FAILED
    assert f"web:ListSites {LOCKED}: 403 AuthorizationFailed" in locked.error
    assert scope_runs[f"azure/{PROD}"].status == RunStatus.SUCCEEDED
    assert scope_runs[f"azure/{PROD}"].gone == 1
    assert alive(VAULT_UI)


def test_throttling_is_retried_after_the_servers_delay(fake_arm, credential):
    fake_arm.throttle.update(
        {"/managedclusters": 1, "/management/values": 1, "/diagnosticsettings": 1}
    )
    run = run_source(azure_source(fake_arm, subscriptions=[PROD]), at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Asset.objects.filter(kind="cluster", gone_at__isnull=True).count() == 2
    assert run.events == 4
    assert set(fake_arm.throttle.values()) == {0}


def test_every_request_the_server_received_is_counted_with_its_throttled_answers(
    fake_arm, credential
):
    """The counting policy runs on every attempt the pipeline's retry policy makes."""
    fake_arm.throttle.update({"/managedclusters": 2, "/management/values": 1})

    run = run_source(azure_source(fake_arm, subscriptions=[PROD]), at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    (read,) = run.scope_runs.all()
    assert read.api_calls == len(fake_arm.requests) > 10
    assert read.throttled == 3
    assert set(fake_arm.throttle.values()) == {0}  # every 429 was answered


def test_reader_only_credentials_still_report_apps_without_setting_names(fake_arm, credential):
    fake_arm.settings_forbidden = True
    run = run_source(azure_source(fake_arm, subscriptions=[PROD]), at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    checkout = alive(CHECKOUT)
    assert "env_names" not in checkout.security
    assert checkout.attributes["app_settings_readable"] is False
    # Without FUNCTIONS_WORKER_RUNTIME a Windows Function App's runtime is unknown, not guessed.
    assert alive(PROMO).runtime == ""


def test_unreadable_auth_and_diagnostic_settings_leave_them_unknown(fake_arm, credential):
    fake_arm.denied_paths.update({"/config/authsettingsv2", "/diagnosticsettings"})
    run = run_source(azure_source(fake_arm, subscriptions=[PROD]), at=NOW)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert "audit_logging" not in alive(AKS_PROD).security
    assert not Finding.objects.filter(rule="no-audit-logging").exists()
    sso = alive(SSO_ADMIN)
    assert [e["auth"] for e in sso.endpoints] == [""]
    assert sso.attributes["easy_auth"] is None


def test_a_tenant_wide_source_lists_subscriptions_in_the_chosen_cloud(fake_arm, credential):
    source = Source.objects.create(
        name="azure-tenant",
        provider="azure",
        endpoint_url=fake_arm.url,
        config={"cloud": "usgov", "access_history": False},
    )
    fake_arm.forbidden.add(LOCKED)

    run = run_source(source, at=NOW)

    keys = set(run.scope_runs.values_list("scope__key", flat=True))
    assert keys == {
        "azure/subscriptions",
        f"azure/{PROD}",
        f"azure/{LOCKED}",
        "azure/0b1f6471-1bf0-4dda-aec3-333333333333",
    }  # the disabled subscription is listed, not collected
    accounts = Asset.objects.filter(kind="account")
    assert accounts.count() == 4
    assert accounts.get(name="Hackathon (pay as you go)").state == "Enabled"
    assert {scopes for scopes in credential.scopes} == {
        ("https://management.usgovcloudapi.net/.default",)
    }
    assert not AccessEvent.objects.exists()
