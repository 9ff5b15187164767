"""The Kubernetes collector against fake API servers, through run_source and the ingest path."""

import shutil
from pathlib import Path

import pytest

from collectors.kubernetes.api import kubeconfig_contexts
from collectors.runner import run_source
from inventory.models import (
    AccessEvent,
    Asset,
    AssetChange,
    Finding,
    OwnershipRule,
    RunStatus,
    Source,
    Team,
)
from inventory.sources_file import SourcesFileError, import_sources

from .conftest import FIXTURES, cluster_objects

pytestmark = pytest.mark.django_db
CLUSTER_UID = "0f1e2d3c-0000-4000-8000-00000000c1a5"
CHECKOUT = f"k8s://{CLUSTER_UID}/9d000000-0000-4000-8000-000000000c01"
DEBUG_SHELL = f"k8s://{CLUSTER_UID}/8c000000-0000-4000-8000-000000000b01"
WORKLOADS = {"checkout", "ledger-db", "log-agent", "cleanup", "one-off-migration", "debug-shell"}


def make_source(clusters, context="prod", name="prod", **config):
    return Source.objects.create(
        name=name,
        provider="kubernetes",
        config={"kubeconfig_path": str(clusters.kubeconfig), "context": context, **config},
    )


def open_findings(key):
    return set(Finding.objects.filter(asset__key=key, status="open").values_list("rule", flat=True))


def test_collects_the_cluster_its_workloads_containers_and_functions(clusters):
    clusters.start("prod")
    run = run_source(make_source(clusters, page_size=3))

    assert run.status == RunStatus.SUCCEEDED, run.error
    cluster = Asset.objects.get(kind="cluster")
    assert (cluster.key, cluster.name) == (f"k8s://{CLUSTER_UID}", "prod-cluster")
    assert cluster.platform_version == "1.29.4"
    assert cluster.attributes["kubelet_versions"] == ["v1.28.9", "v1.29.4"]
    assert cluster.observed["node_count"] == 2
    assert cluster.security == {"audit_logging": True}  # the API server's flags say so
    assert cluster.attributes["function_platforms"] == ["knative"]

    workloads = {a.name: a for a in Asset.objects.filter(kind="workload")}
    assert set(workloads) == WORKLOADS
    assert {n: w.attributes["controller"] for n, w in workloads.items()} == {
        "checkout": "Deployment",
        "ledger-db": "StatefulSet",
        "log-agent": "DaemonSet",
        "cleanup": "CronJob",
        "one-off-migration": "Job",
        "debug-shell": "Pod",
    }
    assert all(w.parent_id == cluster.pk for w in workloads.values())
    checkout = workloads["checkout"]
    assert checkout.labels["owner"] == "maria.garcia@acme.example"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in checkout.labels
    assert checkout.attributes["namespace_labels"]["team"] == "payments"
    assert {e["address"] for e in checkout.endpoints} == {
        "34.120.1.2:443",
        "52.10.20.30:31443",
        "https://shop.acme.example/",
        "52.8.8.8:9090",
    }
    assert workloads["ledger-db"].endpoints == []

    containers = {a.name: a for a in Asset.objects.filter(kind="container")}
    app, proxy = containers["checkout/app"], containers["checkout/proxy"]
    assert app.parent.key == CHECKOUT
    assert app.image == "registry.internal.example/payments/checkout:2.1.0"
    assert app.image_digest == "sha256:" + "a" * 64
    assert app.security["run_as_root"] is False and app.security["read_only_rootfs"] is True
    assert app.security["env_names"] == ["DB_HOST", "STRIPE_API_KEY"]
    assert proxy.security["run_as_root"] is True
    assert proxy.security["capabilities_added"] == ["NET_ADMIN"]
    assert containers["ledger-db/postgres"].security["run_as_root"] is None
    agent = containers["log-agent/fluent-bit"]
    assert agent.security["sensitive_mounts"] == ["/", "/var/run/docker.sock"]
    assert containers["cleanup/cleanup"].image_digest == "sha256:" + "d" * 64

    hello = Asset.objects.get(kind="function")
    assert hello.name == "hello" and hello.endpoints[0]["public"] is True


def test_findings_owners_and_untracked_flags(clusters):
    clusters.start("prod")
    payments = Team.objects.create(name="payments", slug="payments")
    platform = Team.objects.create(name="platform", slug="platform")
    OwnershipRule.objects.create(
        name="team label", team=platform, tag_key="team", tag_value="platform"
    )
    OwnershipRule.objects.create(name="payments ns", team=payments, namespace="payments")

    run_source(make_source(clusters))

    assert open_findings(CHECKOUT) == {"public-endpoint"}
    assert open_findings(DEBUG_SHELL) == {"public-endpoint", "host-namespace"}
    assert open_findings(f"{DEBUG_SHELL}/shell") >= {"privileged", "unpinned-image"}
    agent_key = f"k8s://{CLUSTER_UID}/9d000000-0000-4000-8000-000000000e01/fluent-bit"
    assert {"privileged", "sensitive-mount"} <= open_findings(agent_key)
    assert "unpinned-image" in open_findings(f"{CHECKOUT}/proxy")
    assert "runs-as-root" not in open_findings(f"{CHECKOUT}/app")
    assert open_findings(f"k8s://{CLUSTER_UID}") == {"platform-eol"}

    checkout = Asset.objects.get(key=CHECKOUT)
    assert (checkout.owner, checkout.tracking) == (payments, "tracked")
    assert Asset.objects.get(name="log-agent").owner == platform
    assert Asset.objects.get(key=DEBUG_SHELL).tracking == "untracked"


def test_audit_log_events_are_access_history_once(clusters, tmp_path):
    clusters.start("prod")
    log = tmp_path / "audit.log"
    shutil.copy(FIXTURES / "audit.log", log)
    source = make_source(clusters, audit_log_path=str(log))

    first = run_source(source)
    second = run_source(source)

    assert first.status == RunStatus.SUCCEEDED, first.error
    assert first.events == 5 and second.events == 0
    patch = AccessEvent.objects.get(event_id="a1f3c2e0-0001-4000-8000-000000000001")
    assert (patch.actor, patch.action, patch.asset.key) == (
        "maria.garcia@acme.example",
        "patch deployments",
        CHECKOUT,
    )
    denied = AccessEvent.objects.get(event_id="a1f3c2e0-0005-4000-8000-000000000005")
    assert (denied.outcome, denied.action, denied.asset.key) == (
        "denied",
        "create pods/exec",
        CHECKOUT,
    )
    exec_event = AccessEvent.objects.get(event_id="a1f3c2e0-0004-4000-8000-000000000004")
    assert exec_event.asset.key == DEBUG_SHELL and exec_event.source_ip == "10.0.5.20"

    with log.open("a") as more:  # the API server writes on; the next run reads only that
        more.write(Path(FIXTURES / "audit.log").read_text().splitlines()[4].replace("0004", "0009"))
        more.write("\n")
    third = run_source(source)
    assert third.events == 1


def test_a_second_collection_changes_nothing(clusters):
    clusters.start("prod")
    source = make_source(clusters)
    first = run_source(source)
    second = run_source(source)

    assert first.new == first.seen > 0
    assert (second.seen, second.new, second.changed, second.gone) == (first.seen, 0, 0, 0)


def test_a_deleted_workload_and_its_containers_are_gone(clusters):
    fake = clusters.start("prod")
    source = make_source(clusters)
    run_source(source)

    fake.remove("StatefulSet", "ledger-db", "payments")
    run = run_source(source)

    assert run.gone == 2
    gone = Asset.objects.filter(gone_at__isnull=False)
    assert {a.name for a in gone} == {"ledger-db", "ledger-db/postgres"}
    assert AssetChange.objects.filter(asset__name="ledger-db", new="gone").exists()


def test_an_expired_continue_token_restarts_the_list(clusters):
    fake = clusters.start("prod")
    fake.expire_next_continue = 1
    run = run_source(make_source(clusters, page_size=1))

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Asset.objects.filter(kind="workload").count() == len(WORKLOADS)
    assert any("continue=" in r for r in fake.requests)


def test_a_forbidden_list_fails_that_cluster_only_and_keeps_its_assets(clusters):
    prod = clusters.start("prod")
    staging_objects = [o for o in cluster_objects() if o["kind"] in ("Namespace", "Node")]
    for obj in staging_objects:
        obj["metadata"]["uid"] = obj["metadata"]["uid"].replace("0000-4000", "5555-4000")
    clusters.start("staging", [*staging_objects, _deployment("api")], git_version="v1.31.2")
    prod_source, staging_source = (
        make_source(clusters),
        make_source(clusters, context="staging", name="staging"),
    )
    run_source(prod_source), run_source(staging_source)
    alive = Asset.objects.filter(source=prod_source, gone_at__isnull=True).count()

    prod.forbidden.add("deployments")
    failed, fine = run_source(prod_source), run_source(staging_source)

    assert failed.status == RunStatus.FAILED
    assert "kubernetes:ListDeployments: 403 Forbidden" in failed.error
    assert Asset.objects.filter(source=prod_source, gone_at__isnull=True).count() == alive
    assert fine.status == RunStatus.SUCCEEDED and fine.gone == 0
    assert Asset.objects.get(source=staging_source, kind="cluster").platform_version == "1.31.2"
    assert Asset.objects.filter(source=staging_source, name="api").exists()


def test_an_unreadable_audit_log_fails_only_its_scope(clusters, tmp_path):
    clusters.start("prod")
    run = run_source(make_source(clusters, audit_log_path=str(tmp_path / "missing.log")))

    assert run.status == RunStatus.PARTIAL
    assert "audit-log: CollectorError: kubernetes:ReadAuditLog" in run.error
    assert Asset.objects.filter(kind="workload").count() == len(WORKLOADS)


def test_hostile_labels_are_stored_bounded_and_inert(clusters):
    deployment = _deployment("evil")
    deployment["metadata"]["labels"] = {
        "team": "<script>alert('k8s')</script>",
        "x" * 700: "y" * 9000,
    }
    deployment["metadata"]["annotations"] = {"owner": "'; DROP TABLE inventory_asset; --"}
    objects = [o for o in cluster_objects() if o["kind"] in ("Namespace", "Node")]
    clusters.start("prod", [*objects, deployment])

    run = run_source(make_source(clusters))

    assert run.status == RunStatus.SUCCEEDED, run.error
    evil = Asset.objects.get(name="evil")
    assert evil.labels["team"] == "<script>alert('k8s')</script>"
    assert evil.labels["owner"] == "'; DROP TABLE inventory_asset; --"
    long_key = next(k for k in evil.labels if k.startswith("xxx"))
    assert len(long_key) <= 512 and len(evil.labels[long_key]) <= 4096
    assert Asset.objects.filter(kind="container", name="evil/app").exists()


def _deployment(name):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "sandbox",
            "uid": f"9d000000-0000-4000-8000-{name.encode().hex()[:12]:0>12}",
        },
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": f"registry.internal.example/{name}:1.0"}
                    ]
                },
            },
        },
    }


def test_several_contexts_of_one_kubeconfig_are_several_sources(clusters):
    clusters.start("prod")
    clusters.start("staging", [_deployment("api")])
    clusters.start("lab", [])
    sources_file = f"""
sources:
  - name: k8s-prod
    provider: kubernetes
    config:
      kubeconfig_path: {clusters.kubeconfig}
      context: prod
      audit_webhook_token_env: X_ENV
  - name: k8s-staging
    provider: kubernetes
    config: {{kubeconfig_path: {clusters.kubeconfig}, context: staging}}
"""
    import_sources(sources_file)

    covered = {s.config["context"] for s in Source.objects.filter(provider="kubernetes")}
    contexts = kubeconfig_contexts(str(clusters.kubeconfig))
    assert covered == {"prod", "staging"}
    assert [c["name"] for c in contexts if c["name"] not in covered] == ["lab"]
    assert run_source(Source.objects.get(name="k8s-prod")).status == RunStatus.SUCCEEDED


def test_a_source_naming_a_token_value_is_refused():
    with pytest.raises(SourcesFileError, match="audit_webhook_token"):
        import_sources(
            "sources:\n- {name: k, provider: kubernetes, config: {audit_webhook_token: abc}}"
        )


def test_every_request_the_server_received_is_counted_with_its_throttled_answers(clusters):
    """urllib3 retries a 429 that carries Retry-After on its own: both attempts reach the
    server, and both are counted."""
    fake = clusters.start("prod")
    fake.throttle = {"pods": 1, "deployments": 2}

    run = run_source(make_source(clusters, page_size=3))

    assert run.status == RunStatus.SUCCEEDED, run.error
    (read,) = [s for s in run.scope_runs.all() if s.api_calls is not None]
    assert read.api_calls == len(fake.requests) > 10
    assert read.throttled == 3 and fake.throttle == {"pods": 0, "deployments": 0}
