"""The Docker collector against a real engine, through run_source and the ingest path."""

import pytest

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

pytestmark = pytest.mark.django_db
HOSTILE_KEY = "x" * 600
HOSTILE_VALUE = "<script>alert('label')</script>" + "y" * 10_000
SEEDED = {"web", "admin", "ci-runner", "metrics", "old-job", "hostile"}
CAP_SYS_ADMIN = 21


def effective_capabilities(status: bytes) -> int:
    """CapEff of a /proc/PID/status, as a bit mask."""
    line = next(x for x in status.decode().splitlines() if x.startswith("CapEff:"))
    return int(line.split()[1], 16)


@pytest.fixture(scope="module")
def estate(docker_engine):
    """Containers seeded as a team would leave them on a build host."""
    engine = docker_engine
    ids = {
        "web": engine.create(
            "web",
            start=True,
            user="nobody",
            ports=[80],
            port_bindings={80: ("0.0.0.0", 8080)},
            restart_policy={"Name": "unless-stopped"},
            labels={
                "com.docker.compose.project": "shop",
                "com.docker.compose.service": "web",
                "team": "payments",
            },
        ),
        "admin": engine.create(
            "admin",
            start=True,
            user="0:0",
            ports=[9000],
            port_bindings={9000: ("127.0.0.1", 9000)},
            labels={"com.docker.compose.project": "shop", "com.docker.compose.service": "admin"},
        ),
        # Started through the runtime wrapper (conftest.py), privileged in earnest.
        "ci-runner": engine.create(
            "ci-runner",
            start=True,
            image="local/busybox:latest",
            privileged=True,
            binds={
                engine.socket_path: {"bind": "/var/run/docker.sock", "mode": "rw"},
                "/": {"bind": "/host", "mode": "ro"},
            },
        ),
        "metrics": engine.create(
            "metrics",
            user="1000",
            network_mode="host",
            pid_mode="host",
            ipc_mode="host",
            cap_add=["NET_ADMIN"],
            read_only=True,
        ),
        "old-job": engine.create("old-job", start=True, labels={"owner": "data-team"}),
        "hostile": engine.create(
            "hostile", labels={HOSTILE_KEY: HOSTILE_VALUE, "team": "<img src=x onerror=1>"}
        ),
    }
    assert b"uid=65534" in engine.exec(ids["web"], ["id"])
    # Privileged for real: it holds CAP_SYS_ADMIN, which a root container does not.
    assert effective_capabilities(engine.exec(ids["ci-runner"], ["cat", "/proc/1/status"])) & (
        1 << CAP_SYS_ADMIN
    )
    assert not effective_capabilities(engine.exec(ids["admin"], ["cat", "/proc/1/status"])) & (
        1 << CAP_SYS_ADMIN
    )
    engine.client.stop(ids["old-job"], timeout=0)
    yield ids
    for container_id in ids.values():
        engine.remove(container_id)


@pytest.fixture
def source(docker_engine):
    return Source.objects.create(
        name="build-host", provider="docker", config={"host": docker_engine.url}
    )


def containers():
    return {a.name: a for a in Asset.objects.filter(provider="docker", kind="container")}


def open_findings(asset):
    return set(Finding.objects.filter(asset=asset, status="open").values_list("rule", flat=True))


def test_collects_exactly_the_seeded_containers_with_their_facts(estate, source, docker_engine):
    run = run_source(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    host = Asset.objects.get(kind="docker_host")
    version = docker_engine.client.version()
    assert host.platform_version == docker_engine.client.info()["ServerVersion"]
    assert version["Version"] in host.platform_version
    assert host.attributes["os_type"] == "linux"
    assert host.attributes["swarm"]["state"] == "inactive"

    found = containers()
    assert set(found) == SEEDED
    assert all(a.parent_id == host.pk for a in found.values())
    assert {n: a.state for n, a in found.items()} == {
        "web": "running",
        "admin": "running",
        "ci-runner": "running",
        "metrics": "created",
        "old-job": "exited",
        "hostile": "created",
    }
    image_id = docker_engine.client.inspect_image("local/busybox:1.35")["Id"]
    web = found["web"]
    assert web.key == f"docker://{docker_engine.client.info()['ID']}/{estate['web']}"
    assert (web.image, web.image_digest) == ("local/busybox:1.35", image_id)
    assert web.namespace == "shop"
    assert web.attributes["compose_service"] == "web"
    assert web.attributes["restart_policy"] == "unless-stopped"
    assert web.endpoints == [
        {"address": f"{host.name}:8080", "public": True, "auth": "", "via": "0.0.0.0:8080->80/tcp"}
    ]
    assert web.security["run_as_root"] is False and web.security["privileged"] is False
    assert web.provider_created_at is not None

    admin = found["admin"]
    assert admin.security["run_as_root"] is True
    assert admin.endpoints[0]["public"] is False
    assert admin.endpoints[0]["address"] == "127.0.0.1:9000"

    runner = found["ci-runner"]
    assert runner.state == "running"
    assert runner.security["privileged"] is True and runner.security["run_as_root"] is True
    assert set(runner.security["sensitive_mounts"]) == {docker_engine.socket_path, "/"}
    assert runner.image == "local/busybox:latest"

    metrics = found["metrics"]
    assert metrics.security["host_namespaces"] == ["network", "pid", "ipc"]
    assert metrics.security["capabilities_added"] == ["NET_ADMIN"]
    assert metrics.security["read_only_rootfs"] is True
    assert metrics.security["run_as_root"] is False

    images = Asset.objects.filter(provider="docker", kind="image")
    assert [(i.name, i.image_digest) for i in images] == [("local/busybox:1.35", image_id)]
    assert set(images[0].attributes["tags"]) == {"local/busybox:1.35", "local/busybox:latest"}


def test_findings_owners_and_untracked_flags(estate, source):
    payments = Team.objects.create(name="payments", slug="payments")
    shop = Team.objects.create(name="shop", slug="shop")
    OwnershipRule.objects.create(name="team label", team=payments, tag_key="team", position=1)
    OwnershipRule.objects.create(name="compose shop", team=shop, namespace="shop", position=2)

    run_source(source)
    found = containers()

    assert open_findings(found["web"]) == {"public-endpoint", "untrusted-registry"}
    assert open_findings(found["admin"]) == {"runs-as-root", "untrusted-registry"}
    assert open_findings(found["ci-runner"]) == {
        "privileged",
        "sensitive-mount",
        "runs-as-root",
        "unpinned-image",
        "untrusted-registry",
    }
    assert "host-namespace" in open_findings(found["metrics"])
    assert (found["web"].owner, found["web"].tracking) == (payments, "tracked")
    assert (found["admin"].owner, found["admin"].tracking) == (shop, "tracked")
    assert (found["old-job"].owner, found["old-job"].tracking) == (None, "untracked")
    assert found["web"].exposed and not found["admin"].exposed


def test_engine_events_become_access_history(estate, source, docker_engine):
    run_source(source)

    web = containers()["web"]
    actions = set(AccessEvent.objects.filter(asset=web).values_list("action", flat=True))
    assert {"container.create", "container.start", "container.exec_create"} <= actions
    assert "container.exec_start" in actions
    exec_event = AccessEvent.objects.get(asset=web, action="container.exec_create")
    assert exec_event.detail["command"] == "id"
    assert exec_event.detail["attributes"]["name"] == "web"
    runner = containers()["ci-runner"]
    runner_actions = set(AccessEvent.objects.filter(asset=runner).values_list("action", flat=True))
    assert {"container.start", "container.exec_create"} <= runner_actions
    stopped = containers()["old-job"]
    assert AccessEvent.objects.filter(asset=stopped, action="container.stop").exists()


def test_a_second_collection_changes_nothing(estate, source):
    first = run_source(source)
    second = run_source(source)

    assert first.new == len(SEEDED) + 2  # the host and the image
    assert (second.seen, second.new, second.changed, second.gone) == (first.seen, 0, 0, 0)
    assert second.events == 0
    assert source.scopes.get().cursor["events_until"] >= int(first.started_at.timestamp())


def test_a_removed_container_is_marked_gone(estate, source, docker_engine):
    doomed = docker_engine.create("short-lived", labels={"team": "payments"})
    try:
        run_source(source)
        asset = Asset.objects.get(name="short-lived")
        assert asset.gone_at is None
    finally:
        docker_engine.remove(doomed)

    run = run_source(source)

    asset.refresh_from_db()
    assert run.gone == 1 and asset.gone_at is not None
    assert AssetChange.objects.filter(asset=asset, field="lifecycle", new="gone").exists()
    assert AccessEvent.objects.filter(asset=asset, action="container.destroy").exists()


def test_an_unreachable_engine_fails_the_run_and_keeps_its_assets(estate, source, tmp_path):
    run_source(source)
    alive = Asset.objects.filter(gone_at__isnull=True).count()

    source.config = {"host": f"unix://{tmp_path}/no-such.sock"}
    source.save()
    run = run_source(source)

    assert run.status == RunStatus.FAILED
    assert "docker:Connect unix://" in run.error
    assert Asset.objects.filter(gone_at__isnull=True).count() == alive


def test_hostile_labels_are_stored_bounded_and_inert(estate, source):
    run_source(source)

    hostile = containers()["hostile"]
    assert hostile.labels["team"] == "<img src=x onerror=1>"
    stored_keys = [k for k in hostile.labels if k.startswith("xxx")]
    assert len(stored_keys) == 1 and len(stored_keys[0]) <= 512
    assert hostile.labels[stored_keys[0]].startswith("<script>")
    assert len(hostile.labels[stored_keys[0]]) <= 4096


def test_every_request_the_engine_served_is_counted(estate, source, docker_engine):
    """From the API version negotiation in the client's constructor to the events stream."""
    before = docker_engine.log.stat().st_size

    run = run_source(source)

    (read,) = run.scope_runs.all()
    served = docker_engine.served_since(before)
    assert any(request.startswith("GET /version") for request in served)
    assert any("/events" in request for request in served)
    assert read.api_calls == len(served) > len(SEEDED)
    assert read.throttled == 0
