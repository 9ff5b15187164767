"""Google Cloud transforms on recorded API responses: no database, no server."""

from datetime import UTC, datetime, timedelta

import pytest

from collectors.gcp import audit, functions, gke, projects, run
from collectors.gcp.collector import GcpCollector
from collectors.gcp.common import canonical_runtime, parse_time

from .fake_gcp import fixture

POLICIES = fixture("iam_policies.json")
FUNCTIONS = {f["name"].rsplit("/", 1)[1]: f for f in fixture("functions.json")["functions"]}
SERVICES = {s["name"].rsplit("/", 1)[1]: s for s in fixture("run_services.json")["services"]}
CLUSTERS = {c["name"]: c for c in fixture("clusters.json")["clusters"]}
ENTRIES = {e["insertId"]: e for e in fixture("audit_entries.json")["entries"]}
REVISIONS = {
    name.rsplit("/", 1)[1]: r for name, r in fixture("run_revisions.json")["revisions"].items()
}
FN_PREFIX = "projects/acme-prod/locations/europe-west1"


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("python312", "python3.12"),
        ("python37", "python3.7"),
        ("python310", "python3.10"),
        ("nodejs20", "nodejs20"),
        ("go122", "go1.22"),
        ("go111", "go1.11"),
        ("java17", "java17"),
        ("ruby33", "ruby3.3"),
        ("php82", "php8.2"),
        ("dotnet8", "dotnet8"),
        ("dotnet3", "dotnetcore3.1"),
        ("", ""),
    ],
)
def test_runtimes_become_canonical(given, canonical):
    assert canonical_runtime(given) == canonical


def test_nanosecond_timestamps_parse_as_aware_datetimes():
    assert parse_time("2026-10-20T08:00:00.123456789Z") == datetime(
        2026, 10, 20, 8, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2024-05-01T09:00:00+00:00").tzinfo is not None
    assert parse_time(None) is None


def test_a_public_second_gen_function():
    raw = FUNCTIONS["checkout-webhook"]
    policies = [POLICIES[raw["name"]], POLICIES[f"{FN_PREFIX}/services/checkout-webhook"]]
    record = functions.transform_function(raw, "acme-prod", policies)

    assert record.key == f"//cloudfunctions.googleapis.com/{FN_PREFIX}/functions/checkout-webhook"
    assert (record.kind, record.name, record.account, record.region) == (
        "function",
        "checkout-webhook",
        "acme-prod",
        "europe-west1",
    )
    assert record.runtime == "python3.12" and record.state == "ACTIVE"
    assert record.labels == {"team": "payments", "deployment-tool": "cli-gcloud"}
    [endpoint] = record.endpoints
    assert endpoint.public and endpoint.auth == "none"
    assert endpoint.address == "https://europe-west1-acme-prod.cloudfunctions.net/checkout-webhook"
    assert record.security["public_invokers"] == ["allUsers"]
    assert record.security["env_names"] == [
        "GOOGLE_NODE_RUN_SCRIPTS",
        "LOG_LEVEL",
        "STRIPE_API_KEY",
    ]
    assert record.attributes["secret_env_names"] == ["DB_PASSWORD"]
    assert record.attributes["environment"] == "GEN_2"
    assert record.attributes["service_account"] == "checkout@acme-prod.iam.gserviceaccount.com"
    assert record.attributes["public_bindings"] == {"roles/run.invoker": ["allUsers"]}
    assert record.modified_at == datetime(2026, 10, 20, 8, 0, 0, 123456, tzinfo=UTC)
    assert record.created_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert "sk_live" not in repr(record), "environment values are never read into a record"


def test_first_gen_function_open_to_any_google_account_but_internal_only():
    raw = FUNCTIONS["legacy-report"]
    record = functions.transform_function(raw, "acme-prod", [POLICIES[raw["name"]]])
    [endpoint] = record.endpoints
    assert record.runtime == "python3.8" and record.attributes["environment"] == "GEN_1"
    assert endpoint.auth == "google" and not endpoint.public
    assert record.labels == {}


def test_event_triggered_function_with_no_public_invoker():
    record = functions.transform_function(FUNCTIONS["thumbnailer"], "acme-prod", [{"etag": "x"}])
    assert record.attributes["trigger"] == "google.cloud.storage.object.v1.finalized"
    assert record.endpoints[0].auth == "iam" and not record.endpoints[0].public
    assert record.security["public_invokers"] == []


def test_run_service_with_secrets_sidecar_and_hostile_labels():
    raw = SERVICES["storefront"]
    serving = [REVISIONS["storefront-00003-abc"], REVISIONS["storefront-00002-old"]]
    record, web, sidecar = run.transform_service(
        raw, "acme-prod", POLICIES[raw["name"]], "", serving
    )
    assert record.key == f"//run.googleapis.com/{FN_PREFIX}/services/storefront"
    assert record.kind == "workload" and record.image == "docker.io/library/nginx:latest"
    assert record.image_digest == "sha256:" + "a1" * 32  # deployed by tag, resolved at revision
    assert record.creator == "dev.intern@acme.example"
    assert record.security["env_names"] == ["API_TOKEN"]
    assert record.attributes["secret_env_names"] == ["DB_PASS"]
    assert [(c["image"], c["digest"]) for c in record.attributes["containers"]] == [
        ("docker.io/library/nginx:latest", "sha256:" + "a1" * 32),
        ("gcr.io/acme-prod/log-agent:2.1", "sha256:" + "b2" * 32),
    ]
    assert record.attributes["revision"] == "storefront-00003-abc"
    assert record.attributes["serving_revisions"] == [
        {"revision": "storefront-00003-abc", "percent": 90},
        {"revision": "storefront-00002-old", "percent": 10},
    ]
    [endpoint] = record.endpoints
    assert endpoint.public and endpoint.auth == "none"
    # allAuthenticatedUsers as a viewer is public but grants no invoking.
    assert record.attributes["public_bindings"] == {
        "roles/run.invoker": ["allUsers"],
        "roles/run.viewer": ["allAuthenticatedUsers"],
    }
    assert record.labels["team\x00evil"] == "'; DROP TABLE inventory_asset;--"
    assert "tok_never_store_this" not in repr([record, web, sidecar])

    assert (sidecar.kind, sidecar.parent_key, sidecar.name) == (
        "container",
        record.key,
        "storefront/sidecar",
    )
    assert sidecar.key == f"{record.key}/containers/sidecar"
    assert sidecar.image == "gcr.io/acme-prod/log-agent:2.1"
    assert sidecar.image_digest == "sha256:" + "b2" * 32
    assert sidecar.attributes["role"] == "sidecar" and sidecar.labels == record.labels
    assert web.attributes["role"] == "ingress" and web.attributes["ports"] == [80]
    assert web.security["env_names"] == ["API_TOKEN"] and sidecar.security["env_names"] == []
    assert web.attributes["secret_env_names"] == ["DB_PASS"]


def test_run_service_pinned_by_digest_and_internal():
    raw = SERVICES["internal-api"]
    [record] = run.transform_service(raw, "acme-prod", POLICIES[raw["name"]])
    assert record.image_digest.startswith("sha256:4f2b8c1d")
    assert not record.endpoints[0].public and record.endpoints[0].auth == "iam"
    assert record.region == "us-central1"
    # No traffic split reported: the latest ready revision serves it all.
    assert run.serving_revisions(raw) == [("internal-api-00012-xyz", 100)]


def test_run_digest_of_a_lone_container_unnamed_in_the_revision():
    raw = SERVICES["checkout-webhook"]
    [record] = run.transform_service(
        raw, "acme-prod", {}, "", [REVISIONS["checkout-webhook-00007-vez"]]
    )
    assert record.image.endswith(":version_7")
    assert record.image_digest == "sha256:" + "c3" * 32
    unnamed = {**REVISIONS["internal-api-00012-xyz"]}
    assert run.running_images(unnamed) == {
        "": (
            unnamed["spec"]["containers"][0]["image"],
            "sha256:4f2b8c1d9e0a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1",
        )
    }


def test_run_traffic_goes_to_named_revisions_and_latest():
    raw = {
        **SERVICES["storefront"],
        "trafficStatuses": [
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "b", "percent": 50},
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 50},
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "tagged", "tag": "x"},
        ],
    }
    # Equal shares sort by name; a tag-only target (no percent) serves no regular traffic.
    assert run.serving_revisions(raw) == [("b", 50), ("storefront-00003-abc", 50)]


def test_run_service_behind_a_function_is_its_child_and_iam_can_be_switched_off():
    raw = SERVICES["checkout-webhook"]
    [record] = run.transform_service(raw, "acme-prod", {}, function_key="//fn")
    assert record.parent_key == "//fn"
    assert {e.auth for e in record.endpoints} == {"iam"}
    [unguarded] = run.transform_service({**raw, "invokerIamDisabled": True}, "acme-prod", {})
    assert {e.auth for e in unguarded.endpoints} == {"none"}
    [no_url] = run.transform_service({**raw, "defaultUriDisabled": True}, "acme-prod", {})
    assert no_url.endpoints == []


def test_cluster_with_public_control_plane_and_legacy_abac():
    record = gke.transform_cluster(CLUSTERS["prod-gke"], "acme-prod")
    assert record.key == (
        "//container.googleapis.com/projects/acme-prod/locations/europe-west1/clusters/prod-gke"
    )
    assert record.kind == "cluster" and record.platform_version == "1.29.8-gke.1031000"
    assert record.endpoints[0].public and record.endpoints[0].address == "https://34.76.10.10"
    assert record.security["legacy_abac"] is True
    assert record.security["workload_identity"] is True
    assert record.attributes["release_channel"] == "REGULAR"
    [pool] = record.attributes["node_pools"]
    assert pool["name"] == "default-pool" and pool["autoscaling"] and pool["max_nodes"] == 5
    assert record.labels == {"team": "platform", "env": "prod"}
    assert "LS0tLS1CRUdJTi" not in repr(record), "masterAuth is never read into a record"


def test_private_cluster_is_not_exposed():
    record = gke.transform_cluster(CLUSTERS["private-gke"], "acme-prod")
    assert [e.public for e in record.endpoints] == [False]
    assert record.endpoints[0].via == "private"
    assert record.attributes["authorized_networks"] == ["10.0.0.0/8"]
    assert record.security["legacy_abac"] is False


@pytest.mark.parametrize(
    ("networks", "public"),
    [
        ({"enabled": True, "cidrBlocks": [{"cidrBlock": "198.51.100.0/24"}]}, False),
        ({"enabled": True, "cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}, True),
        ({"enabled": True, "gcpPublicCidrsAccessEnabled": True}, True),
        ({"enabled": False, "cidrBlocks": [{"cidrBlock": "198.51.100.0/24"}]}, True),
    ],
)
def test_authorized_networks_decide_exposure(networks, public):
    raw = {**CLUSTERS["prod-gke"], "masterAuthorizedNetworksConfig": networks}
    assert gke.transform_cluster(raw, "acme-prod").endpoints[0].public is public


def test_new_style_control_plane_endpoints():
    raw = {
        **CLUSTERS["prod-gke"],
        "controlPlaneEndpointsConfig": {
            "ipEndpointsConfig": {"enabled": True, "enablePublicEndpoint": False},
            "dnsEndpointConfig": {
                "endpoint": "gke-abc.europe-west1.gke.goog",
                "allowExternalTraffic": True,
            },
        },
    }
    endpoints = gke.transform_cluster(raw, "acme-prod").endpoints
    assert [(e.address, e.public, e.auth) for e in endpoints] == [
        ("https://gke-abc.europe-west1.gke.goog", True, "iam")
    ]


def test_audit_entries_name_the_asset_and_keep_no_request_body():
    created = audit.transform_audit_entry(ENTRIES["1x2y3z4a5b6c"])
    assert created.event_id == "1x2y3z4a5b6c" and created.provider == "gcp"
    assert created.asset_key == (
        f"//cloudfunctions.googleapis.com/{FN_PREFIX}/functions/checkout-webhook"
    )
    assert created.actor == "maria.garcia@acme.example"
    assert created.action == "google.cloud.functions.v2.FunctionService.CreateFunction"
    assert (created.source_ip, created.outcome) == ("203.0.113.7", "success")
    assert created.user_agent.startswith("google-cloud-sdk")
    assert created.occurred_at == datetime(2026, 10, 20, 7, 58, 12, 318273, tzinfo=UTC)
    assert "sk_live" not in repr(created)

    replaced = audit.transform_audit_entry(ENTRIES["-7h3k9d2a1"])  # Run's v1 resource name
    assert replaced.asset_key == f"//run.googleapis.com/{FN_PREFIX}/services/storefront"

    denied = audit.transform_audit_entry(ENTRIES["gke-0042"])  # zonal name, node pool event
    assert denied.asset_key == (
        "//container.googleapis.com/projects/acme-prod/locations/europe-west1/clusters/prod-gke"
    )
    assert denied.outcome == "failure" and "permission" in denied.detail["status_message"]


def test_audit_entries_of_other_services_or_without_id():
    assert audit.audit_asset_key("storage.googleapis.com", "projects/_/buckets/b") == ""
    assert audit.transform_audit_entry({"timestamp": "2026-10-01T00:00:00Z"}) is None


def test_history_resumes_before_the_last_event_or_starts_days_back():
    now = datetime(2026, 11, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert audit.history_start({}, now, 30, hour) == now - timedelta(days=30)
    resumed = audit.history_start({"audit_since": "2026-10-31T15:00:00Z"}, now, 30, hour)
    assert resumed == datetime(2026, 10, 31, 14, tzinfo=UTC)
    assert 'timestamp>="2026-10-31T14:00:00.000000Z"' in audit.admin_activity_filter("p", resumed)


def test_projects_become_account_assets():
    raw = fixture("projects.json")["organizations/1234"][0]
    record = projects.transform_project(raw)
    assert record.key == "//cloudresourcemanager.googleapis.com/projects/101"
    assert (record.kind, record.name, record.account) == ("account", "acme-prod", "acme-prod")
    assert record.attributes["parent"] == "organizations/1234"
    assert record.labels == {"team": "platform"} and record.state == "ACTIVE"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, "config needs projects, organization or folders"),
        ({"projects": "acme-prod"}, "config.projects must be a list of names"),
        ({"projects": ["p"], "history_days": 0}, "config.history_days must be a whole number"),
        ({"projects": ["p"], "access_history": "yes"}, "config.access_history must be true"),
        ({"projects": ["p"], "key_json": "{}"}, "config.key_json is not a gcp setting"),
    ],
)
def test_config_problems_are_named(config, problem):
    assert any(p.startswith(problem) for p in GcpCollector.validate_config(config))


def test_a_sound_config_has_no_problems():
    config = {"organization": "1234", "folders": ["5678"], "credentials_file": "/etc/k.json"}
    assert GcpCollector.validate_config(config) == []


@pytest.mark.parametrize(
    ("entry_id", "creation"),
    [
        ("1x2y3z4a5b6c", True),  # v2 CreateFunction
        ("fn1-create-7q", True),  # v1 CreateFunction
        ("gke-create-1", True),  # CreateCluster, zonal resource name
        ("gke-create-denied", False),  # refused: creates nothing
        ("-7h3k9d2a1", False),  # ReplaceService changes, does not create
        ("a9b8c7d6e5", False),  # SetIamPolicy
    ],
)
def test_create_calls_name_the_creator(entry_id, creation):
    record = audit.transform_audit_entry(ENTRIES[entry_id])
    assert audit.is_creation(record) is creation


def test_creators_from_the_audit_log_reach_the_records():
    raw = FUNCTIONS["legacy-report"]
    record = functions.transform_function(raw, "acme-prod", [], "ops@acme.example")
    assert record.creator == "ops@acme.example"
    cluster = gke.transform_cluster(CLUSTERS["private-gke"], "acme-prod", "tf@acme.example")
    assert cluster.creator == "tf@acme.example"
    # Cloud Run names its creator itself; the audit log's is the fallback.
    service = SERVICES["storefront"]
    assert run.transform_service(service, "acme-prod", {}, creator="x")[0].creator == (
        "dev.intern@acme.example"
    )
    unnamed = {k: v for k, v in service.items() if k != "creator"}
    assert run.transform_service(unnamed, "acme-prod", {}, creator="x")[0].creator == "x"
