"""Container Instances: container groups and the containers in them.

Environment values, secure values, secret volumes and registry passwords are never read into a
record; a container is reported with its variables' names only.
"""

from collections.abc import Iterator

from ..records import DiscoveredAsset, Endpoint
from .clients import AzureClients, failure
from .common import PROVIDER, parse_time, resource_group, resource_key


def get_container_groups(clients: AzureClients) -> Iterator[dict]:
    call = f"aci:ListContainerGroups {clients.subscription}"
    try:
        for group in clients.aci.container_groups.list():
            yield group.serialize(keep_readonly=True)
    except Exception as exc:
        raise failure(call, exc) from exc


def group_endpoints(properties: dict) -> list[Endpoint]:
    address = properties.get("ipAddress") or {}
    public = (address.get("type") or "").lower() == "public"
    host = address.get("fqdn") or address.get("ip") or ""
    if not host:
        return []
    kind = "public IP" if public else "private IP"
    return [
        Endpoint(
            f"{host}:{port.get('port')}",
            public,
            "",
            f"{kind} {port.get('port')}/{port.get('protocol') or 'TCP'}",
        )
        for port in address.get("ports") or []
    ]


def _container(group_key: str, group: dict, container: dict, subscription: str) -> DiscoveredAsset:
    properties = container.get("properties") or {}
    context = properties.get("securityContext") or {}
    run_as = context.get("runAsUser")
    security = {
        "env_names": sorted(
            {
                str(v.get("name"))
                for v in properties.get("environmentVariables") or []
                if v.get("name")
            }
        ),
        "privileged": bool(context.get("privileged")),
        "capabilities_added": list((context.get("capabilities") or {}).get("add") or []),
    }
    if run_as is not None:
        security["run_as_root"] = run_as == 0
    image = properties.get("image", "")
    requests = (properties.get("resources") or {}).get("requests") or {}
    return DiscoveredAsset(
        key=f"{group_key}/containers/{container['name'].lower()}",
        provider=PROVIDER,
        kind="container",
        name=container["name"],
        account=subscription,
        region=group.get("location", ""),
        namespace=resource_group(group["id"]),
        parent_key=group_key,
        labels=dict(group.get("tags") or {}),
        image=image,
        image_digest=image.split("@", 1)[1] if "@sha256:" in image else "",
        security=security,
        attributes={
            "ports": [p.get("port") for p in properties.get("ports") or []],
            "cpu": requests.get("cpu"),
            "memory_gb": requests.get("memoryInGB"),
            "command": bool(properties.get("command")),
            "volume_mounts": [m.get("mountPath", "") for m in properties.get("volumeMounts") or []],
        },
        state=((properties.get("instanceView") or {}).get("currentState") or {}).get("state", ""),
        observed={"restart_count": (properties.get("instanceView") or {}).get("restartCount")},
    )


def transform_container_group(raw: dict, subscription: str) -> list[DiscoveredAsset]:
    """``raw`` is a ContainerGroup: the group, then each of its containers."""
    properties = raw.get("properties") or {}
    key = resource_key(raw["id"])
    system = raw.get("systemData") or {}
    containers = properties.get("containers") or []
    group = DiscoveredAsset(
        key=key,
        provider=PROVIDER,
        kind="workload",
        name=raw["name"],
        account=subscription,
        region=raw.get("location", ""),
        namespace=resource_group(raw["id"]),
        labels=dict(raw.get("tags") or {}),
        image=(containers[0].get("properties") or {}).get("image", "")
        if len(containers) == 1
        else "",
        endpoints=group_endpoints(properties),
        security={"identity": (raw.get("identity") or {}).get("type", "None")},
        attributes={
            "restart_policy": properties.get("restartPolicy", ""),
            "os_type": properties.get("osType", ""),
            "sku": properties.get("sku", ""),
            "priority": properties.get("priority", ""),
            "containers": [c.get("name", "") for c in containers],
            "registries": sorted(
                {c.get("server", "") for c in properties.get("imageRegistryCredentials") or []}
            ),
            "volumes": sorted(
                f"{v.get('name', '')}:{_volume_type(v)}" for v in properties.get("volumes") or []
            ),
            "subnets": [resource_key(s.get("id", "")) for s in properties.get("subnetIds") or []],
            "dns_name_label": (properties.get("ipAddress") or {}).get("dnsNameLabel", ""),
        },
        state=(
            (properties.get("instanceView") or {}).get("state")
            or properties.get("provisioningState", "")
        ),
        creator=system.get("createdBy", ""),
        created_at=parse_time(system.get("createdAt")),
        modified_at=parse_time(system.get("lastModifiedAt")),
    )
    return [group] + [_container(key, raw, c, subscription) for c in containers]


def _volume_type(volume: dict) -> str:
    """Which kind of volume, without reading its content (secret values, storage keys)."""
    for kind in ("azureFile", "emptyDir", "secret", "gitRepo"):
        if kind in volume:
            return kind
    return "other"
