"""Pure functions from the Docker Engine API's dicts to Daylight's records.

Inputs are the engine's own shapes (``GET /info``, ``GET /containers/{id}/json``,
``GET /images/json``, ``GET /services``, ``GET /events``); nothing here calls the engine.
Labels, names and event attributes are whatever whoever started the container wrote: they are
passed on as data, never interpreted.
"""

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from collectors.records import AccessRecord, DiscoveredAsset, Endpoint

from .hostpaths import is_sensitive_host_path

PROVIDER = "docker"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
SWARM_STACK = "com.docker.stack.namespace"
# Addresses a published port binds to that mean "every interface of the host".
EVERY_INTERFACE = {"", "0.0.0.0", "::"}
ROOT_USERS = {"", "root", "0"}
HOST_MODES = (
    ("NetworkMode", "network"),
    ("PidMode", "pid"),
    ("IpcMode", "ipc"),
    ("UTSMode", "uts"),
    ("UsernsMode", "user"),
)
# Engine events that are someone acting on a container or an image; "die", "oom",
# "health_status" and the like are the engine reporting state, not access.
CONTAINER_ACTIONS = {
    "create",
    "start",
    "stop",
    "restart",
    "kill",
    "destroy",
    "pause",
    "unpause",
    "update",
    "rename",
    "attach",
    "commit",
    "exec_create",
    "exec_start",
}
IMAGE_ACTIONS = {"pull", "push", "delete", "import", "load", "tag", "untag", "save"}


@dataclass(frozen=True)
class Engine:
    """The host a record comes from: the engine's ID, its name, and the address people use to
    reach it (the API URL's host for tcp:// and ssh://, else its name)."""

    id: str
    name: str
    address: str

    @classmethod
    def of(cls, info: dict, base_url: str) -> "Engine":
        name = info.get("Name") or info["ID"]
        parts = urlsplit(base_url or "")
        remote = parts.scheme in ("tcp", "http", "https", "ssh") and parts.hostname
        return cls(info["ID"], name, parts.hostname if remote else name)


def parse_time(value) -> datetime | None:
    """The engine's RFC 3339 times (nanoseconds, "Z") or Unix seconds, as aware datetimes.

    Docker writes "0001-01-01T00:00:00Z" for "never": that is None.
    """
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).replace("Z", "+00:00")
    date_part, dot, rest = text.partition(".")
    if dot:  # Python reads at most microseconds; the engine writes nanoseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{date_part}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return None if when.year <= 1 else when


def host_key(engine_id: str) -> str:
    return f"docker://{engine_id}"


def container_key(engine_id: str, container_id: str) -> str:
    return f"{host_key(engine_id)}/{container_id}"


def image_key(engine_id: str, image_id: str) -> str:
    return f"{host_key(engine_id)}/images/{image_id}"


def _is_global(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def _api_endpoints(base_url: str, tls: bool) -> list[Endpoint]:
    """The engine API itself, when reached over the network. Without TLS anyone who can reach
    the port is root on the host."""
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("tcp", "http", "https") or not parts.hostname:
        return []
    secure = tls or parts.scheme == "https"
    return [
        Endpoint(
            address=f"{parts.hostname}:{parts.port or (2376 if secure else 2375)}",
            public=_is_global(parts.hostname),
            auth="tls-client-cert" if secure else "none",
            via="Docker Engine API" + ("" if secure else " without TLS"),
        )
    ]


def transform_host(info: dict, version: dict, base_url: str, tls: bool) -> DiscoveredAsset:
    """The engine (``GET /info`` and ``GET /version``) as a ``docker_host`` asset."""
    swarm = info.get("Swarm") or {}
    security_options = info.get("SecurityOptions") or []
    return DiscoveredAsset(
        key=host_key(info["ID"]),
        provider=PROVIDER,
        kind="docker_host",
        name=info.get("Name") or info["ID"],
        account=info.get("Name") or info["ID"],
        platform_version=info.get("ServerVersion") or version.get("Version") or "",
        endpoints=_api_endpoints(base_url, tls),
        labels=_engine_labels(info.get("Labels") or []),
        security={
            "rootless": any("name=rootless" in str(o) for o in security_options),
        },
        attributes={
            "api_url": _without_credentials(base_url),
            "api_version": version.get("ApiVersion", ""),
            "os": info.get("OperatingSystem", ""),
            "os_type": info.get("OSType", ""),
            "architecture": info.get("Architecture", ""),
            "kernel_version": info.get("KernelVersion", ""),
            "default_runtime": info.get("DefaultRuntime", ""),
            "security_options": security_options,
            "swarm": {
                "state": swarm.get("LocalNodeState", "inactive"),
                "manager": bool(swarm.get("ControlAvailable")),
                "cluster_id": (swarm.get("Cluster") or {}).get("ID", ""),
            },
        },
        state="swarm-manager" if swarm.get("ControlAvailable") else "running",
        observed={
            "containers_running": info.get("ContainersRunning", 0),
            "containers_stopped": info.get("ContainersStopped", 0),
            "images": info.get("Images", 0),
        },
    )


def _engine_labels(labels: list) -> dict[str, str]:
    """The daemon's labels come as "key=value" strings."""
    pairs = (str(label).partition("=") for label in labels)
    return {key: value for key, _, value in pairs if key}


def _without_credentials(url: str) -> str:
    parts = urlsplit(url or "")
    if parts.username or parts.password:
        return parts._replace(netloc=parts.hostname or "").geturl()
    return url or ""


def runs_as_root(user: str) -> bool:
    """Docker runs the process as root when no user is set; "0", "root", "0:0" and "root:grp"
    are root too. Any other name or UID is not (a user named other than root with UID 0 is
    possible but not something Docker can tell us)."""
    name = (user or "").split(":", 1)[0].strip()
    return name in ROOT_USERS


def _published_ports(config: dict, host_config: dict, address: str) -> list[Endpoint]:
    bindings = dict(host_config.get("PortBindings") or {})
    if host_config.get("PublishAllPorts"):
        for port in config.get("ExposedPorts") or {}:
            bindings.setdefault(port, [{"HostIp": "", "HostPort": ""}])
    endpoints = []
    for container_port, binds in sorted(bindings.items()):
        for bind in binds or []:
            bind_ip = bind.get("HostIp") or ""
            host_port = bind.get("HostPort") or "random"
            shown_ip = bind_ip or "0.0.0.0"
            public = bind_ip in EVERY_INTERFACE or _is_global(bind_ip)
            endpoints.append(
                Endpoint(
                    address=f"{address if public else shown_ip}:{host_port}",
                    public=public,
                    via=f"{shown_ip}:{host_port}->{container_port}",
                )
            )
    return endpoints


def _host_network_ports(config: dict, address: str) -> list[Endpoint]:
    """With the host's network a container listens on the host's interfaces directly; the ports
    its image declares are the ones it is known to use."""
    return [
        Endpoint(address=f"{address}:{port.split('/')[0]}", public=True, via=f"host network {port}")
        for port in sorted(config.get("ExposedPorts") or {})
    ]


def _host_namespaces(host_config: dict) -> list[str]:
    return [name for field, name in HOST_MODES if host_config.get(field) == "host"]


def _mounts(inspected: dict) -> list[dict]:
    """The container's mounts, in a stable order (the engine lists them in map order)."""
    mounts = [
        {
            "type": mount.get("Type", ""),
            "source": mount.get("Source", ""),
            "destination": mount.get("Destination", ""),
            "rw": bool(mount.get("RW")),
        }
        for mount in inspected.get("Mounts") or []
    ]
    return sorted(mounts, key=lambda m: (m["destination"], m["source"]))


def _env_names(env: list) -> list[str]:
    """Names of the environment variables; their values are never read past the "="."""
    return [str(item).split("=", 1)[0] for item in env or []]


def transform_container(
    inspected: dict, engine: Engine, repo_digests: dict[str, list[str]]
) -> DiscoveredAsset:
    """One container (``GET /containers/{id}/json``) as a ``container`` asset.

    ``repo_digests`` maps image IDs to their registry digests ("repo@sha256:…"); an image built
    or imported locally has none, and then its image ID is the digest Daylight keeps.
    """
    config = inspected.get("Config") or {}
    host_config = inspected.get("HostConfig") or {}
    state = inspected.get("State") or {}
    labels = config.get("Labels") or {}
    image_id = inspected.get("Image", "")
    mounts = _mounts(inspected)
    network_mode = host_config.get("NetworkMode", "")
    endpoints = _published_ports(config, host_config, engine.address)
    if network_mode == "host":
        endpoints += _host_network_ports(config, engine.address)
    restart = host_config.get("RestartPolicy") or {}
    return DiscoveredAsset(
        key=container_key(engine.id, inspected["Id"]),
        provider=PROVIDER,
        kind="container",
        name=(inspected.get("Name") or inspected["Id"][:12]).lstrip("/"),
        account=engine.name,
        namespace=labels.get(COMPOSE_PROJECT) or labels.get(SWARM_STACK) or "",
        parent_key=host_key(engine.id),
        labels=dict(labels),
        image=config.get("Image", ""),
        image_digest=_registry_digest(repo_digests.get(image_id, [])) or image_id,
        endpoints=endpoints,
        security={
            "privileged": bool(host_config.get("Privileged")),
            "run_as_root": runs_as_root(config.get("User", "")),
            "user": config.get("User", ""),
            "read_only_rootfs": bool(host_config.get("ReadonlyRootfs")),
            "host_namespaces": _host_namespaces(host_config),
            "capabilities_added": list(host_config.get("CapAdd") or []),
            "sensitive_mounts": [
                m["source"]
                for m in mounts
                if m["type"] == "bind" and is_sensitive_host_path(m["source"])
            ],
            "security_opt": list(host_config.get("SecurityOpt") or []),
            "env_names": _env_names(config.get("Env")),
        },
        attributes={
            "container_id": inspected["Id"],
            "image_id": image_id,
            "network_mode": network_mode,
            "restart_policy": restart.get("Name", "") or "no",
            "restart_max_retries": restart.get("MaximumRetryCount", 0),
            "runtime": host_config.get("Runtime", ""),
            "mounts": mounts,
            "compose_project": labels.get(COMPOSE_PROJECT, ""),
            "compose_service": labels.get(COMPOSE_SERVICE, ""),
        },
        state=state.get("Status", ""),
        observed={
            "started_at": state.get("StartedAt", ""),
            "finished_at": state.get("FinishedAt", ""),
            "exit_code": state.get("ExitCode", 0),
            "restart_count": inspected.get("RestartCount", 0),
        },
        created_at=parse_time(inspected.get("Created")),
    )


def _registry_digest(repo_digests: list[str]) -> str:
    """ "sha256:…" of the first "repo@sha256:…" reference."""
    for reference in repo_digests:
        _, at, digest = str(reference).partition("@")
        if at and digest:
            return digest
    return ""


def _real_tags(image: dict) -> list[str]:
    return [tag for tag in image.get("RepoTags") or [] if tag and tag != "<none>:<none>"]


def transform_image(image: dict, engine: Engine) -> DiscoveredAsset:
    """One image on the host (``GET /images/json``) as an ``image`` asset with its tags.

    The tags are attributes, not the ``image`` field: a tag lying on a host is not a deployment,
    so image hygiene is judged on the containers that run it.
    """
    tags = sorted(_real_tags(image))
    repo_digests = sorted(d for d in image.get("RepoDigests") or [] if d and "<none>" not in d)
    return DiscoveredAsset(
        key=image_key(engine.id, image["Id"]),
        provider=PROVIDER,
        kind="image",
        name=tags[0] if tags else image["Id"].removeprefix("sha256:")[:12],
        account=engine.name,
        parent_key=host_key(engine.id),
        labels=dict(image.get("Labels") or {}),
        image_digest=_registry_digest(repo_digests) or image["Id"],
        attributes={"image_id": image["Id"], "tags": tags, "repo_digests": repo_digests},
        observed={"size": image.get("Size", 0), "containers": image.get("Containers", -1)},
        created_at=parse_time(image.get("Created")),
    )


def repo_digest_index(images: list[dict]) -> dict[str, list[str]]:
    return {image["Id"]: sorted(image.get("RepoDigests") or []) for image in images}


def tag_index(images: list[dict]) -> dict[str, str]:
    """Image ID of each tag, to tie "pull nginx:1.25" events to the image they brought."""
    return {tag: image["Id"] for image in images for tag in _real_tags(image)}


def transform_swarm_service(service: dict, cluster_id: str, engine: Engine) -> DiscoveredAsset:
    """A swarm service (``GET /services``) as a ``workload``: the swarm's, not one host's."""
    spec = service.get("Spec") or {}
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    image, _, digest = (container.get("Image") or "").partition("@")
    endpoints = []
    for port in (service.get("Endpoint") or {}).get("Ports") or []:
        if port.get("PublishedPort"):
            ingress = port.get("PublishMode", "ingress") == "ingress"
            endpoints.append(
                Endpoint(
                    address=f"{engine.address}:{port['PublishedPort']}",
                    public=True,
                    via=f"swarm {'ingress' if ingress else 'host'} "
                    f"{port['PublishedPort']}->{port.get('TargetPort')}/{port.get('Protocol')}",
                )
            )
    privileges = container.get("Privileges") or {}
    mounts = container.get("Mounts") or []
    labels = spec.get("Labels") or {}
    return DiscoveredAsset(
        key=f"docker-swarm://{cluster_id}/services/{service['ID']}",
        provider=PROVIDER,
        kind="workload",
        name=spec.get("Name") or service["ID"],
        account=engine.name,
        namespace=labels.get(SWARM_STACK, ""),
        labels=dict(labels),
        image=image,
        image_digest=digest,
        endpoints=endpoints,
        security={
            "run_as_root": runs_as_root(container.get("User", "")),
            "read_only_rootfs": bool(container.get("ReadOnly")),
            "capabilities_added": list(container.get("CapabilityAdd") or []),
            "sensitive_mounts": [
                m.get("Source", "")
                for m in mounts
                if m.get("Type") == "bind" and is_sensitive_host_path(m.get("Source", ""))
            ],
            "no_new_privileges": bool(privileges.get("NoNewPrivileges")),
            "env_names": _env_names(container.get("Env")),
        },
        attributes={
            "controller": "SwarmService",
            "mode": next(iter(spec.get("Mode") or {}), ""),
            "swarm_cluster_id": cluster_id,
        },
        created_at=parse_time(service.get("CreatedAt")),
        modified_at=parse_time(service.get("UpdatedAt")),
    )


def event_id(engine_id: str, event: dict) -> str:
    """The engine gives events no ID; the engine, the nanosecond, the action and the object
    together identify one."""
    actor = event.get("Actor") or {}
    text = "|".join(
        str(part)
        for part in (
            engine_id,
            event.get("timeNano") or event.get("time"),
            event.get("Type"),
            event.get("Action"),
            actor.get("ID"),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _event_time(event: dict) -> datetime:
    nanos = event.get("timeNano")
    if nanos:
        seconds, rest = divmod(int(nanos), 1_000_000_000)
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    return datetime.fromtimestamp(int(event["time"]), UTC)


def transform_event(event: dict, engine: Engine, tags: dict[str, str]) -> AccessRecord | None:
    """An engine event about a container or an image, or None for the engine's own reports.

    The engine does not say who acted (the API has no users); what it says — the container's
    name, image and labels, the exec command — is kept as the event's detail.
    """
    kind = event.get("Type", "")
    raw_action = event.get("Action", "")
    action, _, argument = raw_action.partition(":")
    actor = event.get("Actor") or {}
    object_id = actor.get("ID", "")
    attributes = dict(actor.get("Attributes") or {})
    if kind == "container" and action in CONTAINER_ACTIONS:
        asset_key = container_key(engine.id, object_id)
    elif kind == "image" and action in IMAGE_ACTIONS:
        image_id = object_id if object_id.startswith("sha256:") else tags.get(object_id, "")
        asset_key = image_key(engine.id, image_id) if image_id else ""
    else:
        return None
    detail = {"type": kind, "object_id": object_id, "attributes": attributes, "host": engine.name}
    if argument.strip():
        detail["command"] = argument.strip()
    return AccessRecord(
        event_id=event_id(engine.id, event),
        provider=PROVIDER,
        occurred_at=_event_time(event),
        action=f"{kind}.{action}",
        asset_key=asset_key,
        outcome="success",
        detail=detail,
    )
