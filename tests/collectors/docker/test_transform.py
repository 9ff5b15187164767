"""Docker transforms on responses recorded from a real engine (fixtures/), without a database.

containers.json, images.json, info.json, version.json and events.json were recorded from the
test engine (docker.io 20.10) with the estate of test_collect.py; swarm_services.json follows
the Engine API reference for ``GET /services``.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.docker.hostpaths import is_sensitive_host_path
from collectors.docker.transform import (
    Engine,
    parse_time,
    repo_digest_index,
    runs_as_root,
    tag_index,
    transform_container,
    transform_event,
    transform_host,
    transform_image,
    transform_swarm_service,
)

FIXTURES = Path(__file__).parent / "fixtures"


def load(name):
    return json.loads((FIXTURES / name).read_text())


INFO = load("info.json")
ENGINE = Engine.of(INFO, "unix:///var/run/docker.sock")
ENGINE_KEY = f"docker://{INFO['ID']}"
IMAGES = load("images.json")


def container(name):
    inspected = next(c for c in load("containers.json") if c["Name"] == f"/{name}")
    return transform_container(inspected, ENGINE, repo_digest_index(IMAGES))


def test_host_carries_engine_version_os_and_swarm_mode():
    host = transform_host(INFO, load("version.json"), "unix:///var/run/docker.sock", tls=False)
    assert host.key == f"docker://{INFO['ID']}" and host.kind == "docker_host"
    assert host.platform_version == "20.10.24+dfsg1"
    assert host.attributes["os"] == "Debian GNU/Linux 12 (bookworm)"
    assert host.attributes["swarm"] == {"state": "inactive", "manager": False, "cluster_id": ""}
    assert host.endpoints == []  # a local socket is not a network endpoint


def test_a_tcp_engine_without_tls_is_an_unauthenticated_endpoint():
    host = transform_host(INFO, load("version.json"), "tcp://52.12.34.56:2375", tls=False)
    assert [e.as_dict() for e in host.endpoints] == [
        {
            "address": "52.12.34.56:2375",
            "public": True,
            "auth": "none",
            "via": "Docker Engine API without TLS",
        }
    ]
    with_tls = transform_host(INFO, load("version.json"), "tcp://10.0.0.5:2376", tls=True)
    assert with_tls.endpoints[0].auth == "tls-client-cert" and not with_tls.endpoints[0].public


def test_published_port_on_every_interface_is_public():
    web = container("web")
    assert [e.as_dict() for e in web.endpoints] == [
        {"address": "vm:8080", "public": True, "auth": "", "via": "0.0.0.0:8080->80/tcp"}
    ]
    assert web.parent_key == ENGINE_KEY
    assert web.labels["team"] == "payments" and web.namespace == "shop"
    assert web.security["run_as_root"] is False
    assert web.image == "local/busybox:1.35"
    assert web.image_digest == IMAGES[0]["Id"]  # imported locally: no registry digest
    assert web.state == "running"
    assert web.created_at.tzinfo is not None


def test_loopback_port_is_not_public_and_uid_zero_is_root():
    admin = container("admin")
    assert admin.endpoints[0].as_dict() == {
        "address": "127.0.0.1:9000",
        "public": False,
        "auth": "",
        "via": "127.0.0.1:9000->9000/tcp",
    }
    assert admin.security["run_as_root"] is True


def test_privileged_container_with_socket_and_root_mounts():
    runner = container("ci-runner")
    assert runner.security["privileged"] is True
    assert runner.security["run_as_root"] is True  # no user set: root
    assert runner.security["sensitive_mounts"] == ["/", "/var/run/docker.sock"]
    assert runner.state == "created"


def test_host_namespaces_capabilities_and_read_only_root():
    metrics = container("metrics")
    assert metrics.security["host_namespaces"] == ["network", "pid", "ipc"]
    assert metrics.security["capabilities_added"] == ["NET_ADMIN"]
    assert metrics.security["read_only_rootfs"] is True
    assert metrics.attributes["network_mode"] == "host"


def test_stopped_container_is_reported_with_its_state():
    job = container("old-job")
    assert job.state == "exited" and job.labels == {"owner": "data-team"}


def test_image_with_its_tags():
    image = transform_image(IMAGES[0], ENGINE)
    assert image.kind == "image" and image.name == "local/busybox:1.35"
    assert image.attributes["tags"] == ["local/busybox:1.35", "local/busybox:latest"]
    assert image.image == ""  # tags on a host are not deployments: no image hygiene findings


@pytest.mark.parametrize(
    ("user", "root"),
    [
        *[("", True), ("root", True), ("0", True), ("0:0", True), ("root:wheel", True)],
        *[("nobody", False), ("1000", False), ("1000:1000", False), ("app", False)],
    ],
)
def test_who_runs_as_root(user, root):
    assert runs_as_root(user) is root


@pytest.mark.parametrize(
    ("path", "sensitive"),
    [
        ("/var/run/docker.sock", True),
        ("/run/containerd/containerd.sock", True),
        ("/", True),
        ("//", True),
        ("/var/run/", True),
        ("/etc", True),
        ("/home/app/data", False),
        ("/srv/www", False),
        ("relative/docker.sock", False),
    ],
)
def test_sensitive_host_paths(path, sensitive):
    assert is_sensitive_host_path(path) is sensitive


def test_engine_events_become_access_records():
    tags = tag_index(IMAGES)
    records = [r for e in load("events.json") if (r := transform_event(e, ENGINE, tags))]
    actions = [r.action for r in records]
    assert "container.die" not in actions and "container.exec_die" not in actions
    exec_create = next(r for r in records if r.action == "container.exec_create")
    assert exec_create.detail["command"] == "id"
    assert exec_create.detail["attributes"]["name"] == "web"
    assert exec_create.asset_key.startswith(ENGINE_KEY + "/")
    tag = next(r for r in records if r.action == "image.tag")
    assert tag.asset_key == f"{ENGINE_KEY}/images/{IMAGES[0]['Id']}"
    assert len({r.event_id for r in records}) == len(records)
    assert all(r.occurred_at.tzinfo is UTC for r in records)


def test_event_time_keeps_microseconds():
    event = {
        "Type": "container",
        "Action": "start",
        "Actor": {"ID": "abc", "Attributes": {}},
        "time": 1795324813,
        "timeNano": 1795324813995179373,
    }
    record = transform_event(event, ENGINE, {})
    assert record.occurred_at == datetime(2026, 11, 22, 5, 20, 13, 995179, tzinfo=UTC)


def test_engine_times():
    assert parse_time("2026-11-22T05:20:13.815449965Z") == datetime(
        2026, 11, 22, 5, 20, 13, 815449, tzinfo=UTC
    )
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time(1795324813) == datetime(2026, 11, 22, 5, 20, 13, tzinfo=UTC)


def test_swarm_service_keeps_env_names_only():
    service = transform_swarm_service(load("swarm_services.json")[0], "swarm-1", ENGINE)
    assert service.kind == "workload" and service.name == "shop_api"
    assert service.key == "docker-swarm://swarm-1/services/9mnpnzenvg8p8tdbtq4wvbkcz"
    assert service.image == "registry.internal.example/shop/api:2.4.1"
    assert service.image_digest.startswith("sha256:4b9c")
    assert service.namespace == "shop"
    assert service.security["env_names"] == ["DB_HOST", "DB_PASSWORD"]
    assert "hunter2" not in json.dumps(service.security) + json.dumps(service.attributes)
    assert service.security["sensitive_mounts"] == ["/var/run/docker.sock"]
    assert service.endpoints[0].public and service.endpoints[0].address == "vm:80"
