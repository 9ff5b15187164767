"""Azure transforms on recorded ARM responses: no database, no server."""

from datetime import UTC, datetime

import pytest

from collectors.azure import activity_log, aks, container_instances, subscriptions, web_apps
from collectors.azure.clients import AzureClients, CountRequests
from collectors.azure.collector import AzureCollector
from collectors.azure.common import CLOUDS, runtime_from_fx, windows_runtime

from .fake_arm import PROD, fixture

SITES = {s["name"]: s for s in fixture("sites.json")["value"]}
CONFIGS = fixture("site_configs.json")
SETTINGS = fixture("app_settings.json")
FUNCTIONS = fixture("site_functions.json")
CLUSTERS = {c["name"]: c for c in fixture("managed_clusters.json")["value"]}
AUTH = fixture("auth_settings.json")
SLOTS = fixture("slots.json")
DIAGNOSTICS = fixture("diagnostic_settings.json")
GROUPS = {g["name"]: g for g in fixture("container_groups.json")["value"]}
EVENTS = {e["eventDataId"][-1]: e for e in fixture("activity_log.json")["value"]}
SECRETS = ("sk_live", "tok_never", "pw_never", "AccountKey", "never_store", "c2VjcmV0")


def kept(name):
    """What ``get_app_settings`` keeps of a site's settings."""
    values = SETTINGS[name]["properties"]
    return {
        "names": sorted(values),
        "runtime": {k: v for k, v in values.items() if k in web_apps.RUNTIME_SETTINGS},
    }


def site(name, settings=True, functions=True):
    return web_apps.transform_site(
        SITES[name],
        PROD,
        CONFIGS[name],
        kept(name) if settings else None,
        FUNCTIONS.get(name, {}).get("value") if functions else None,
    )


@pytest.mark.parametrize(
    ("fx", "runtime", "image"),
    [
        ("Python|3.11", "python3.11", ""),
        ("PYTHON|3.9", "python3.9", ""),
        ("NODE|20-lts", "nodejs20", ""),
        ("DOTNETCORE|8.0", "dotnet8", ""),
        ("DOTNET-ISOLATED|8.0", "dotnet8", ""),
        ("DOTNETCORE|3.1", "dotnetcore3.1", ""),
        ("JAVA|17-java17", "java17", ""),
        ("TOMCAT|10.0-java17", "java17", ""),
        ("JAVA|8-jre8", "java8", ""),
        ("PHP|8.2", "php8.2", ""),
        ("RUBY|2.7", "ruby2.7", ""),
        ("DOCKER|nginx:1.25", "", "nginx:1.25"),
        ("COMPOSE|dmVyc2lvbjogJzMn", "", ""),
        ("", "", ""),
    ],
)
def test_fx_versions_become_runtime_or_image(fx, runtime, image):
    assert runtime_from_fx(fx) == (runtime, image)


def test_windows_apps_name_their_runtime_in_separate_settings():
    config = {"netFrameworkVersion": "v8.0", "javaVersion": None, "phpVersion": ""}
    assert windows_runtime("", config, {}) == ("dotnet8", "netFrameworkVersion")
    node = {"WEBSITE_NODE_DEFAULT_VERSION": "~18"}
    assert windows_runtime("node", {"netFrameworkVersion": "v4.0"}, node) == (
        "nodejs18",
        "WEBSITE_NODE_DEFAULT_VERSION",
    )
    assert windows_runtime("java", {"javaVersion": "1.8"}, {}) == ("java8", "javaVersion")
    assert windows_runtime("", {"netFrameworkVersion": "v4.0"}, {}, function_app=True) == ("", "")


def test_a_linux_function_app_with_an_anonymous_http_function():
    record = site("checkout-func")
    assert record.key == (
        f"/subscriptions/{PROD}/resourcegroups/payments-rg/providers/microsoft.web/sites/checkout-func"
    )
    assert (record.kind, record.name, record.namespace) == (
        "function",
        "checkout-func",
        "payments-rg",
    )
    assert record.runtime == "python3.11" and record.state == "Running"
    assert record.attributes["functions_extension_version"] == "~4"
    assert record.attributes["functions"] == ["settle", "webhook"]
    host, webhook = record.endpoints
    assert (
        host.public
        and host.auth == ""
        and host.address == "https://checkout-func.azurewebsites.net"
    )
    assert webhook.public and webhook.auth == "none"
    assert webhook.address == "https://checkout-func.azurewebsites.net/api/webhook"
    assert record.security["env_names"] == [
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "AzureWebJobsStorage",
        "FUNCTIONS_EXTENSION_VERSION",
        "FUNCTIONS_WORKER_RUNTIME",
        "STRIPE_API_KEY",
    ]
    assert record.security["identity"] == "SystemAssigned"
    assert record.creator == "maria.garcia@acme.example"
    assert record.created_at == datetime(2026, 2, 1, 9, 0, 0, 123456, tzinfo=UTC)
    assert record.modified_at.tzinfo is not None
    assert not any(secret in repr(record) for secret in SECRETS)


def test_a_windows_function_app_on_an_old_host_with_plain_ftp():
    record = site("promo-hooks")
    assert record.runtime == "nodejs14" and record.attributes["runtime_source"] == (
        "WEBSITE_NODE_DEFAULT_VERSION"
    )
    assert record.attributes["functions_extension_version"] == "~3"
    assert record.attributes["ftps_state"] == "AllAllowed"
    assert record.attributes["https_only"] is False and record.attributes["remote_debugging"]
    assert {e.auth for e in record.endpoints} == {"", "key"}


def test_a_container_web_app_behind_access_restrictions():
    record = site("status-page")
    assert record.kind == "workload" and record.image == "ghcr.io/acme/status-page:latest"
    assert record.runtime == "" and record.namespace == "Platform-RG"
    [endpoint] = record.endpoints
    assert not endpoint.public and endpoint.via == "access restrictions"
    assert record.attributes["identity"]["type"] == "UserAssigned"
    assert record.security["env_names"] == [
        "DOCKER_REGISTRY_SERVER_PASSWORD",
        "WEBSITES_ENABLE_APP_SERVICE_STORAGE",
    ]
    assert "pw_never" not in repr(record)


def test_unreadable_settings_and_functions_stay_unknown():
    record = site("checkout-func", settings=False, functions=False)
    assert "env_names" not in record.security
    assert record.attributes["app_settings_readable"] is False
    assert record.attributes["functions"] is None
    assert len(record.endpoints) == 1


def test_public_network_access_disabled_closes_the_app():
    raw = {**SITES["checkout-func"]}
    raw["properties"] = {**raw["properties"], "publicNetworkAccess": "Disabled"}
    public, why = web_apps.open_to_internet(raw, CONFIGS["checkout-func"]["properties"])
    assert (public, why) == (False, "public network access disabled")


def test_easy_auth_requiring_sign_in_names_its_providers():
    record = web_apps.transform_site(
        SITES["sso-admin"], PROD, CONFIGS["sso-admin"], None, None, AUTH["sso-admin"]
    )
    [host] = record.endpoints
    assert host.auth == "aad,oidc"  # Google is configured but off
    assert "Easy Auth RedirectToLoginPage" in host.via
    assert record.attributes["easy_auth"] == {
        "enabled": True,
        "required": True,
        "action": "RedirectToLoginPage",
        "providers": ["aad", "oidc"],
        "excluded_paths": ["/health"],
    }
    assert "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET" not in repr(record)


@pytest.mark.parametrize(
    ("auth_settings", "auth"),
    [
        (AUTH["status-page"], "none"),  # off
        (AUTH["checkout-func"], "none"),  # on, but anonymous callers pass through
        ({"properties": {"platform": {"enabled": True}}}, "easy-auth"),  # on, no provider named
        (None, ""),  # not readable
    ],
)
def test_easy_auth_decides_the_endpoint_auth(auth_settings, auth):
    assert web_apps.platform_auth(web_apps.easy_auth(auth_settings)) == auth


def test_easy_auth_stands_in_front_of_anonymous_http_functions():
    required = {
        **AUTH["sso-admin"]["properties"],
        "identityProviders": AUTH["checkout-func"]["properties"]["identityProviders"],
    }
    record = web_apps.transform_site(
        SITES["checkout-func"],
        PROD,
        CONFIGS["checkout-func"],
        kept("checkout-func"),
        FUNCTIONS["checkout-func"]["value"],
        {"properties": required},
    )
    assert {e.auth for e in record.endpoints} == {"aad"}


def test_a_deployment_slot_is_an_app_under_its_app():
    [raw] = SLOTS["checkout-func"]["value"]
    parent = site("checkout-func").key
    record = web_apps.transform_site(
        raw, PROD, CONFIGS["checkout-func/staging"], None, None, None, parent
    )
    assert record.key == f"{parent}/slots/staging"
    assert (record.parent_key, record.name, record.kind) == (
        parent,
        "checkout-func/staging",
        "function",
    )
    assert record.runtime == "python3.8" and record.attributes["slot"] is True
    [host] = record.endpoints
    assert host.address == "https://checkout-func-staging.azurewebsites.net" and host.public
    assert host.via == "no access restrictions"


def test_aks_audit_logging_from_diagnostic_settings():
    prod = aks.transform_managed_cluster(
        CLUSTERS["aks-prod"], PROD, DIAGNOSTICS["aks-prod"]["value"]
    )
    # kube-audit is off in the setting with a destination, on in one that sends nowhere.
    assert prod.security["audit_logging"] is False
    assert prod.attributes["audit_log_categories"] == []
    private = aks.transform_managed_cluster(
        CLUSTERS["aks-private"], PROD, DIAGNOSTICS["aks-private"]["value"]
    )
    assert private.security["audit_logging"] is True
    assert private.attributes["audit_log_categories"] == ["audit"]
    unknown = aks.transform_managed_cluster(CLUSTERS["aks-private"], PROD, None)
    assert "audit_logging" not in unknown.security
    only_admin = [
        {
            "properties": {
                "storageAccountId": "/subscriptions/x/storageAccounts/y",
                "logs": [{"category": "kube-audit-admin", "enabled": True}],
            }
        }
    ]
    assert aks.audit_log_categories(only_admin) == ["kube-audit-admin"]


def test_a_public_aks_cluster_with_local_accounts():
    record = aks.transform_managed_cluster(CLUSTERS["aks-prod"], PROD)
    assert record.kind == "cluster" and record.platform_version == "1.28.9"
    assert record.namespace == "platform-rg" and record.state == "Running"
    [endpoint] = record.endpoints
    assert endpoint.public and endpoint.auth == "kubernetes"
    assert record.security["local_accounts"] is True and record.security["rbac"] is True
    assert record.attributes["node_pools"][0]["max_count"] == 6
    assert record.creator == "sam.okafor@acme.example"
    assert not any(s in repr(record) for s in ("P@ssw0rd", "sp_secret", "AAAAB3Nza"))


def test_a_private_aks_cluster_with_entra_id():
    record = aks.transform_managed_cluster(CLUSTERS["aks-private"], PROD)
    assert [(e.public, e.auth) for e in record.endpoints] == [(False, "aad")]
    assert record.security["local_accounts"] is False and record.security["azure_rbac"]
    assert record.security["workload_identity"] is True


@pytest.mark.parametrize(
    ("ranges", "public"), [(["203.0.113.0/24"], False), (["0.0.0.0/0"], True), ([], True)]
)
def test_authorized_ip_ranges_decide_aks_exposure(ranges, public):
    raw = CLUSTERS["aks-prod"]
    properties = {**raw["properties"], "apiServerAccessProfile": {"authorizedIPRanges": ranges}}
    record = aks.transform_managed_cluster({**raw, "properties": properties}, PROD)
    assert record.endpoints[0].public is public


def test_a_public_container_group_and_its_privileged_root_container():
    group, jupyter = container_instances.transform_container_group(GROUPS["notebook-demo"], PROD)
    assert group.kind == "workload" and jupyter.kind == "container"
    assert jupyter.parent_key == group.key and jupyter.key == f"{group.key}/containers/jupyter"
    assert group.image == "jupyter/base-notebook:latest" == jupyter.image
    [endpoint] = group.endpoints
    assert endpoint.public and endpoint.address == "notebook-demo.westeurope.azurecontainer.io:8888"
    assert jupyter.security["privileged"] is True and jupyter.security["run_as_root"] is True
    assert jupyter.security["capabilities_added"] == ["NET_ADMIN"]
    assert jupyter.security["env_names"] == ["DB_PASSWORD", "JUPYTER_TOKEN"]
    assert group.attributes["restart_policy"] == "Always"
    assert group.attributes["volumes"] == ["secrets:secret"]
    assert group.labels["owner"] == "$(rm -rf /) `id`"
    assert not any(s in repr((group, jupyter)) for s in ("jt_never", "reg_never", "c2VjcmV0"))


def test_a_private_group_with_two_containers():
    group, backup, uploader = container_instances.transform_container_group(
        GROUPS["nightly-backup"], PROD
    )
    assert group.image == "" and not group.endpoints[0].public
    assert backup.image_digest.startswith("sha256:9c8b7a6d")
    assert backup.security["run_as_root"] is False
    assert "run_as_root" not in uploader.security  # unknown, never assumed safe


def test_activity_events_keep_outcomes_and_name_the_asset():
    assert activity_log.transform_event(EVENTS["1"]) is None  # "Started": interim
    created = activity_log.transform_event(EVENTS["2"])
    assert created.asset_key == (
        f"/subscriptions/{PROD}/resourcegroups/payments-rg/providers/microsoft.web/sites/checkout-func"
    )
    assert (created.actor, created.action, created.outcome) == (
        "maria.garcia@acme.example",
        "Microsoft.Web/sites/write",
        "success",
    )
    assert created.source_ip == "203.0.113.7"
    config = activity_log.transform_event(EVENTS["3"])  # a child resource, another casing
    assert config.asset_key.endswith(
        "/resourcegroups/marketing-rg/providers/microsoft.web/sites/promo-hooks"
    )
    failed = activity_log.transform_event(EVENTS["4"])
    assert failed.outcome == "failure" and failed.detail["sub_status"] == "Conflict"
    assert activity_log.transform_event(EVENTS["6"]) is None  # a storage account


def test_subscriptions_become_account_assets():
    raw = fixture("subscriptions.json")["value"][0]
    record = subscriptions.transform_subscription(raw)
    assert record.key == f"/subscriptions/{PROD}" and record.kind == "account"
    assert (record.name, record.account, record.state) == ("ACME Production", PROD, "Enabled")


def test_the_cloud_picks_endpoint_and_token_scope_and_an_override_keeps_the_scope():
    usgov = AzureClients(object(), CLOUDS["usgov"], PROD)
    counting = usgov.kwargs.pop("per_retry_policies")
    assert usgov.kwargs == {
        "base_url": "https://management.usgovcloudapi.net",
        "credential_scopes": ["https://management.usgovcloudapi.net/.default"],
    }
    assert [type(policy) for policy in counting] == [CountRequests]
    private = AzureClients(object(), CLOUDS["china"], PROD, "https://arm.private.example/")
    assert private.kwargs["base_url"] == "https://arm.private.example"
    assert private.kwargs["credential_scopes"] == ["https://management.chinacloudapi.cn/.default"]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"cloud": "mars"}, "config.cloud must be one of"),
        ({"credential": "secret"}, "config.credential must be one of"),
        ({"subscriptions": "abc"}, "config.subscriptions must be a list"),
        ({"history_days": 120}, "config.history_days must be a whole number"),
        ({"client_secret": "x"}, "config.client_secret is not a azure setting"),
    ],
)
def test_config_problems_are_named(config, problem):
    assert any(p.startswith(problem) for p in AzureCollector.validate_config(config))


def test_an_empty_config_means_every_subscription_in_the_public_cloud():
    assert AzureCollector.validate_config({}) == []
