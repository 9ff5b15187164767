"""Kubernetes transforms on recorded objects (fixtures/cluster.yaml, fixtures/audit.log), which
follow the API reference, without a database or an API server."""

import json

import pytest

from collectors.kubernetes.audit import (
    LogPosition,
    WorkloadIndex,
    access_records,
    audit_events,
    read_audit_log,
)
from collectors.kubernetes.transform import (
    Cluster,
    Exposure,
    NodeSummary,
    audit_flags,
    image_digest,
    kubernetes_version,
    run_as_root,
    running_digests,
    selector_matches,
    transform_cluster,
    transform_knative_service,
    transform_openfaas_function,
    transform_workload,
)

from .conftest import FIXTURES, cluster_objects

OBJECTS = cluster_objects()
CLUSTER = Cluster(uid="c1", name="prod")


def find(kind, name, api_version=None):
    return next(
        o
        for o in OBJECTS
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (api_version is None or o["apiVersion"] == api_version)
    )


def exposure():
    found = Exposure()
    for obj in OBJECTS:
        if obj["kind"] == "Service" and obj["apiVersion"] == "v1":
            found.add_service(obj, ["52.10.20.30"])
        elif obj["kind"] == "Ingress":
            found.add_ingress(obj)
    return found


def test_cluster_version_nodes_and_audit_visibility():
    nodes = NodeSummary()
    for node in (o for o in OBJECTS if o["kind"] == "Node"):
        nodes.add(node)
    version = {"gitVersion": "v1.29.4-eks-2f008fe", "platform": "linux/amd64"}
    cluster = transform_cluster(CLUSTER, version, nodes, "https://10.0.0.1:6443", None, [], [])
    assert cluster.platform_version == "1.29.4"
    assert cluster.attributes["kubelet_versions"] == ["v1.28.9", "v1.29.4"]
    assert cluster.observed == {"node_count": 2}
    assert cluster.security == {}  # cannot tell: unknown, not "off"
    assert nodes.external_ips == ["52.10.20.30"]
    assert cluster.endpoints[0].public is False
    assert audit_flags(find("Pod", "kube-apiserver-node-a")) is True
    assert audit_flags(find("Pod", "debug-shell")) is None


def test_deployment_with_containers_digests_and_exposure():
    deployment = find("Deployment", "checkout")
    digests = running_digests(find("Pod", "checkout-7d4b9c-x7k2p"))
    workload, migrate, app, proxy = transform_workload(
        deployment, "Deployment", CLUSTER, digests, exposure()
    )
    assert workload.key == "k8s://c1/9d000000-0000-4000-8000-000000000c01"
    assert workload.labels["team"] == "payments"
    assert workload.labels["owner"] == "maria.garcia@acme.example"
    assert "deployment.kubernetes.io/revision" not in workload.labels
    assert [e.via for e in workload.endpoints] == [
        "LoadBalancer payments/checkout:443",
        "NodePort payments/checkout:31443",
        "Ingress payments/shop",
        "externalIPs payments/checkout-admin:9090",
    ]
    assert workload.security["service_account"] == "checkout"
    assert workload.modified_at.isoformat() == "2026-10-30T14:05:00+00:00"

    assert migrate.attributes["init"] is True
    assert app.parent_key == workload.key and app.name == "checkout/app"
    assert app.image_digest == "sha256:" + "a" * 64
    assert app.security["run_as_root"] is False
    assert app.security["allow_privilege_escalation"] is False
    assert app.attributes["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert proxy.security["run_as_root"] is True  # container runAsUser 0 beats the pod's
    assert json.dumps(app.security).count("api-key") == 0  # env names only


def test_daemonset_host_access():
    workload, agent = transform_workload(
        find("DaemonSet", "log-agent"), "DaemonSet", CLUSTER, {}, Exposure()
    )
    assert workload.security["host_namespaces"] == ["network", "pid"]
    assert workload.attributes["host_paths"] == ["/", "/var/log", "/var/run/docker.sock"]
    assert agent.security["privileged"] is True
    assert agent.security["sensitive_mounts"] == ["/", "/var/run/docker.sock"]
    assert agent.security["run_as_root"] is None


def test_bare_pod_on_a_node_port():
    pod = find("Pod", "debug-shell")
    workload, shell = transform_workload(pod, "Pod", CLUSTER, running_digests(pod), exposure())
    assert workload.state == "running"
    assert [e.as_dict() for e in workload.endpoints] == [
        {
            "address": "52.10.20.30:30080",
            "public": True,
            "auth": "",
            "via": "NodePort sandbox/debug:30080",
        }
    ]
    assert workload.security["host_namespaces"] == ["ipc"]
    assert shell.image == "ubuntu:latest" and shell.security["privileged"] is True


def test_internal_load_balancer_is_not_public():
    service = find("Service", "checkout", "v1")
    service["metadata"]["annotations"] = {"networking.gke.io/load-balancer-type": "Internal"}
    found = Exposure()
    found.add_service(service, [])
    lb = found.for_pods("payments", {"app": "checkout"})[0]
    assert lb.public is False and lb.via.endswith("internal")


@pytest.mark.parametrize(
    ("container", "pod", "expected"),
    [
        ({}, {}, None),
        ({"runAsUser": 0}, {"runAsNonRoot": True}, True),
        ({}, {"runAsUser": 1000}, False),
        ({"runAsNonRoot": True}, {}, False),
        ({"runAsNonRoot": False}, {}, None),
        ({"runAsUser": 1000}, {"runAsUser": 0}, False),
    ],
)
def test_run_as_root_is_unknown_unless_the_spec_says(container, pod, expected):
    assert run_as_root(container, pod) is expected


def test_selectors_digests_and_versions():
    assert selector_matches({"app": "a"}, {"app": "a", "tier": "web"})
    assert not selector_matches({}, {"app": "a"})
    assert not selector_matches({"app": "a", "tier": "db"}, {"app": "a"})
    assert image_digest("docker-pullable://nginx@sha256:" + "f" * 64) == "sha256:" + "f" * 64
    assert image_digest("sha256:" + "f" * 64) == "sha256:" + "f" * 64
    assert image_digest("") == ""
    assert kubernetes_version("v1.30.1+k3s1") == "1.30.1"


def test_functions_on_kubernetes():
    (hello,) = transform_knative_service(
        find("Service", "hello", "serving.knative.dev/v1"), CLUSTER
    )
    assert hello.kind == "function" and hello.image == "ghcr.io/acme/hello:1.0.3"
    assert hello.endpoints[0].address == "https://hello.sandbox.acme.example"
    assert hello.labels["team"] == "marketing"
    function = {
        "apiVersion": "openfaas.com/v1",
        "kind": "Function",
        "metadata": {"name": "figlet", "namespace": "openfaas-fn", "uid": "f1"},
        "spec": {
            "name": "figlet",
            "image": "ghcr.io/openfaas/figlet:latest",
            "environment": {"API_TOKEN": "value-never-kept"},
            "labels": {"team": "platform"},
        },
    }
    (figlet,) = transform_openfaas_function(function, CLUSTER)
    assert figlet.security["env_names"] == ["API_TOKEN"]
    assert "value-never-kept" not in json.dumps(figlet.security | figlet.attributes)
    assert figlet.labels["team"] == "platform"


def test_audit_log_is_read_from_where_it_stopped(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes((FIXTURES / "audit.log").read_bytes() + b'{"kind": "Event", "audi')
    position = LogPosition()
    events = list(read_audit_log(str(log), position))
    assert len(events) == 9 and position.malformed == 1
    assert position.offset == len((FIXTURES / "audit.log").read_bytes())  # not the torn line
    assert list(read_audit_log(str(log), position)) == []


def test_audit_events_become_access_records():
    index = WorkloadIndex()
    index.add("Deployment", "payments", "checkout", "k8s://c1/checkout")
    index.pods[("sandbox", "debug-shell")] = "k8s://c1/debug"
    events = [json.loads(line) for line in (FIXTURES / "audit.log").read_text().splitlines()[:-1]]
    records = {r.event_id[-4:]: r for r in access_records(events, index)}
    assert set(records) == {"0001", "0004", "0005", "0006", "0008"}
    assert records["0001"].asset_key == "k8s://c1/checkout"
    assert records["0005"].asset_key == "k8s://c1/checkout"  # by the pod's name
    assert records["0005"].outcome == "denied" and records["0005"].source_ip == "198.51.100.77"
    assert records["0004"].detail["request_uri"].endswith("tty=true")
    assert records["0008"].detail["impersonated_user"] == "dev.intern@acme.example"
    assert records["0006"].asset_key == ""
    assert audit_events({"kind": "EventList", "items": events[:2]}) == events[:2]
    assert audit_events(["not", "a", "batch"]) == []
