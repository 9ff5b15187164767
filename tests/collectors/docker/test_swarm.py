"""Swarm services against a real engine that is a swarm manager (its own dockerd, so the other
tests keep a plain engine).

The swarm listens on loopback only (listen, advertise and data-path addresses 127.0.0.1). Its
routing-mesh network ("ingress") is removed right after ``swarm init``: that overlay opens a
VXLAN socket on every interface (UDP 4789 on 0.0.0.0), and without it no service can publish in
ingress mode ("service needs ingress network, but no ingress network is present"), so ingress
publishing stays covered by the recorded fixture (test_transform.py). Services have no replicas:
their specs, ports and privileges are what the collector reads, and no task binds a port.
"""

import socket
import subprocess
from pathlib import Path

import pytest
from docker import types
from docker.errors import APIError

from collectors.runner import run_source
from inventory.models import Asset, Finding, RunStatus, Source

from .conftest import IMAGE, IMAGE_TAG, running_engine

pytestmark = pytest.mark.django_db
GATEWAY_BRIDGE = Path("/sys/class/net/docker_gwbridge")  # swarm init makes it on the host


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def swarm_engine():
    bridge_was_there = GATEWAY_BRIDGE.exists()
    try:
        with running_engine("daylight-swarm-") as engine:
            try:
                engine.client.init_swarm(
                    advertise_addr="127.0.0.1",
                    listen_addr=f"127.0.0.1:{free_loopback_port()}",
                    data_path_addr="127.0.0.1",
                )
            except APIError as exc:
                pytest.skip(f"docker swarm init failed here: {exc.explanation or exc}")
            try:
                engine.client.remove_network("ingress")
                yield engine
            finally:
                engine.client.leave_swarm(force=True)
    finally:
        if not bridge_was_there and GATEWAY_BRIDGE.exists():
            subprocess.run(["ip", "link", "delete", "docker_gwbridge"], check=False)


@pytest.fixture(scope="module")
def services(swarm_engine):
    client = swarm_engine.client
    api = client.create_service(
        types.TaskTemplate(
            types.ContainerSpec(
                f"{IMAGE}:{IMAGE_TAG}",
                command=["sleep", "3600"],
                user="0",
                read_only=True,
                cap_add=["CAP_NET_ADMIN"],
                mounts=[types.Mount("/var/run/docker.sock", swarm_engine.socket_path, type="bind")],
                env=["API_TOKEN=not-kept", "PORT=90"],
            )
        ),
        name="api",
        labels={"team": "payments", "com.docker.stack.namespace": "shop"},
        mode=types.ServiceMode("replicated", replicas=0),
        endpoint_spec=types.EndpointSpec(ports={9090: (90, "tcp", "host")}),
    )
    quiet = client.create_service(
        types.TaskTemplate(types.ContainerSpec(f"{IMAGE}:{IMAGE_TAG}", user="nobody")),
        name="quiet",
        mode=types.ServiceMode("replicated", replicas=0),
    )
    return {"api": api["ID"], "quiet": quiet["ID"]}


@pytest.fixture
def source(swarm_engine):
    return Source.objects.create(name="swarm", provider="docker", config={"host": swarm_engine.url})


def swarm_services():
    return {
        a.name: a
        for a in Asset.objects.filter(provider="docker", attributes__controller="SwarmService")
    }


def test_a_swarm_manager_reports_its_services_with_ports_labels_and_privileges(
    services, source, swarm_engine
):
    run = run_source(source)
    assert run.status == RunStatus.SUCCEEDED, run.error

    host = Asset.objects.get(kind="docker_host")
    cluster_id = swarm_engine.client.info()["Swarm"]["Cluster"]["ID"]
    assert host.state == "swarm-manager"
    swarm = host.attributes["swarm"]
    assert (swarm["state"], swarm["manager"], swarm["cluster_id"]) == ("active", True, cluster_id)

    found = swarm_services()
    assert set(found) == {"api", "quiet"}
    api = found["api"]
    assert api.key == f"docker-swarm://{cluster_id}/services/{services['api']}"
    assert api.kind == "workload" and api.image == f"{IMAGE}:{IMAGE_TAG}"
    assert api.namespace == "shop" and api.labels["team"] == "payments"
    assert api.attributes["mode"] == "Replicated"  # the API's own spelling
    assert api.endpoints == [
        {
            "address": f"{host.name}:9090",
            "public": True,
            "auth": "",
            "via": "swarm host 9090->90/tcp",
        }
    ]
    assert api.security["run_as_root"] is True and api.security["read_only_rootfs"] is True
    assert api.security["capabilities_added"] == ["CAP_NET_ADMIN"]
    assert api.security["sensitive_mounts"] == [swarm_engine.socket_path]
    assert api.security["env_names"] == ["API_TOKEN", "PORT"]
    rules = set(Finding.objects.filter(asset=api, status="open").values_list("rule", flat=True))
    assert {"public-endpoint", "runs-as-root", "sensitive-mount"} <= rules

    quiet = found["quiet"]
    assert quiet.endpoints == [] and quiet.security["run_as_root"] is False
    assert not quiet.exposed

    again = run_source(source)
    assert (again.new, again.changed, again.gone) == (0, 0, 0)


def test_a_removed_service_is_marked_gone(services, source, swarm_engine):
    doomed = swarm_engine.client.create_service(
        types.TaskTemplate(types.ContainerSpec(f"{IMAGE}:{IMAGE_TAG}")),
        name="short-lived",
        mode=types.ServiceMode("replicated", replicas=0),
    )
    run_source(source)
    assert swarm_services()["short-lived"].gone_at is None

    swarm_engine.client.remove_service(doomed["ID"])
    run = run_source(source)

    assert run.gone == 1 and swarm_services()["short-lived"].gone_at is not None
