"""Google Kubernetes Engine clusters.

The control plane is exposed when its public endpoint is on and no authorized-networks list
narrows who may reach it (or the list admits everyone / all of Google Cloud's addresses).
``masterAuth`` (certificates, legacy basic-auth passwords) is never read into a record.
"""

from collections.abc import Iterator

from ..base import CollectorError
from ..records import DiscoveredAsset, Endpoint
from .clients import RETRY, TIMEOUT, GcpClients, failure
from .common import PROVIDER, as_rest, full_name, parse_time

SERVICE = "container.googleapis.com"
EVERYONE = {"0.0.0.0/0", "::/0"}


def get_clusters(clients: GcpClients, project: str) -> Iterator[dict]:
    """Every cluster of ``project``. The API answers in one page and names the zones it could
    not read: a partial answer is a failure, or the missing clusters would be marked gone."""
    call = f"gke:ListClusters {project}"
    try:
        response = clients.gke.list_clusters(
            request={"parent": f"projects/{project}/locations/-"}, retry=RETRY, timeout=TIMEOUT
        )
    except Exception as exc:
        raise failure(call, exc) from exc
    if response.missing_zones:
        raise CollectorError(call, f"zones not answered: {', '.join(response.missing_zones)}")
    for cluster in response.clusters:
        yield as_rest(cluster)


def cluster_key(project: str, location: str, name: str) -> str:
    return full_name(SERVICE, f"projects/{project}/locations/{location}/clusters/{name}")


def _authorized_networks(raw: dict) -> tuple[bool, list[str]]:
    """(whether the list restricts who reaches the public endpoint, its CIDR blocks)."""
    ip_config = (raw.get("controlPlaneEndpointsConfig") or {}).get("ipEndpointsConfig") or {}
    config = (
        raw.get("masterAuthorizedNetworksConfig") or ip_config.get("authorizedNetworksConfig") or {}
    )
    cidrs = [block.get("cidrBlock", "") for block in config.get("cidrBlocks") or []]
    restricts = (
        bool(config.get("enabled"))
        and not EVERYONE.intersection(cidrs)
        and not config.get("gcpPublicCidrsAccessEnabled")
    )
    return restricts, cidrs


def _public_ip_enabled(raw: dict) -> bool:
    private = raw.get("privateClusterConfig") or {}
    ip_config = (raw.get("controlPlaneEndpointsConfig") or {}).get("ipEndpointsConfig") or {}
    if ip_config.get("enabled") is False:
        return False
    if "enablePublicEndpoint" in ip_config:
        return bool(ip_config["enablePublicEndpoint"])
    return not private.get("enablePrivateEndpoint", False)


def control_plane_endpoints(raw: dict) -> list[Endpoint]:
    private = raw.get("privateClusterConfig") or {}
    restricted, cidrs = _authorized_networks(raw)
    endpoints = []
    public_address = private.get("publicEndpoint") or raw.get("endpoint")
    if _public_ip_enabled(raw) and public_address:
        via = f"authorized networks {', '.join(cidrs)}" if restricted else "public control plane"
        endpoints.append(Endpoint(f"https://{public_address}", not restricted, "kubernetes", via))
    if private.get("privateEndpoint"):
        endpoints.append(
            Endpoint(f"https://{private['privateEndpoint']}", False, "kubernetes", "private")
        )
    dns = (raw.get("controlPlaneEndpointsConfig") or {}).get("dnsEndpointConfig") or {}
    if dns.get("endpoint"):
        external = bool(dns.get("allowExternalTraffic"))
        endpoints.append(Endpoint(f"https://{dns['endpoint']}", external, "iam", "DNS endpoint"))
    return endpoints


def _node_pool(pool: dict) -> dict:
    config = pool.get("config") or {}
    autoscaling = pool.get("autoscaling") or {}
    return {
        "name": pool.get("name", ""),
        "version": pool.get("version", ""),
        "machine_type": config.get("machineType", ""),
        "image_type": config.get("imageType", ""),
        "service_account": config.get("serviceAccount", ""),
        "initial_node_count": pool.get("initialNodeCount"),
        "autoscaling": bool(autoscaling.get("enabled")),
        "min_nodes": autoscaling.get("minNodeCount"),
        "max_nodes": autoscaling.get("maxNodeCount"),
        "auto_upgrade": bool((pool.get("management") or {}).get("autoUpgrade")),
        "workload_metadata": (config.get("workloadMetadataConfig") or {}).get("mode", ""),
    }


def transform_cluster(raw: dict, project: str, creator: str = "") -> DiscoveredAsset:
    """``raw`` is a GKE v1 Cluster; ``creator`` who created it, by the audit log (the API does
    not say)."""
    _, cidrs = _authorized_networks(raw)
    workload_pool = (raw.get("workloadIdentityConfig") or {}).get("workloadPool", "")
    return DiscoveredAsset(
        key=cluster_key(project, raw["location"], raw["name"]),
        provider=PROVIDER,
        kind="cluster",
        name=raw["name"],
        account=project,
        region=raw["location"],
        labels=dict(raw.get("resourceLabels") or {}),
        platform_version=raw.get("currentMasterVersion", ""),
        endpoints=control_plane_endpoints(raw),
        security={
            "legacy_abac": bool((raw.get("legacyAbac") or {}).get("enabled")),
            "workload_identity": bool(workload_pool),
            # GKE writes Admin Activity audit logs for the Kubernetes API; they cannot be
            # turned off.
            "audit_logging": True,
        },
        attributes={
            "cluster_id": raw.get("id", ""),
            "release_channel": (raw.get("releaseChannel") or {}).get("channel", ""),
            "autopilot": bool((raw.get("autopilot") or {}).get("enabled")),
            "private_nodes": bool(
                (raw.get("privateClusterConfig") or {}).get("enablePrivateNodes")
            ),
            "authorized_networks": cidrs,
            "workload_pool": workload_pool,
            "network_policy": bool((raw.get("networkPolicy") or {}).get("enabled")),
            "node_pools": [_node_pool(pool) for pool in raw.get("nodePools") or []],
            "initial_version": raw.get("initialClusterVersion", ""),
        },
        state=raw.get("status", ""),
        observed={
            "node_version": raw.get("currentNodeVersion", ""),
            "node_count": raw.get("currentNodeCount"),
        },
        creator=creator,
        created_at=parse_time(raw.get("createTime")),
    )
