"""AKS managed clusters.

The API server is exposed when the cluster is not private and no authorized IP ranges narrow
who may reach it. Service principal secrets, admin passwords and SSH keys in the cluster
resource are never read into a record.
"""

from collections.abc import Iterator

from ..records import DiscoveredAsset, Endpoint
from .clients import AzureClients, failure
from .common import PROVIDER, parse_time, resource_group, resource_key

EVERYONE = {"0.0.0.0/0", "::/0"}


def get_managed_clusters(clients: AzureClients) -> Iterator[dict]:
    call = f"aks:ListManagedClusters {clients.subscription}"
    try:
        for cluster in clients.aks.managed_clusters.list():
            yield cluster.as_dict()
    except Exception as exc:
        raise failure(call, exc) from exc


def api_server_endpoints(properties: dict) -> list[Endpoint]:
    access = properties.get("apiServerAccessProfile") or {}
    auth = "aad" if properties.get("aadProfile") else "kubernetes"
    endpoints = []
    if access.get("enablePrivateCluster"):
        if properties.get("privateFQDN"):
            fqdn = properties["privateFQDN"]
            endpoints.append(Endpoint(f"https://{fqdn}:443", False, auth, "private cluster"))
        return endpoints
    ranges = access.get("authorizedIPRanges") or []
    restricted = bool(ranges) and not EVERYONE.intersection(ranges)
    if properties.get("fqdn"):
        via = f"authorized IP ranges {', '.join(ranges)}" if restricted else "public API server"
        endpoints.append(Endpoint(f"https://{properties['fqdn']}:443", not restricted, auth, via))
    return endpoints


def _node_pool(pool: dict) -> dict:
    return {
        "name": pool.get("name", ""),
        "mode": pool.get("mode", ""),
        "version": pool.get("currentOrchestratorVersion") or pool.get("orchestratorVersion", ""),
        "vm_size": pool.get("vmSize", ""),
        "os_type": pool.get("osType", ""),
        "os_sku": pool.get("osSKU", ""),
        "count": pool.get("count"),
        "autoscaling": bool(pool.get("enableAutoScaling")),
        "min_count": pool.get("minCount"),
        "max_count": pool.get("maxCount"),
        "node_public_ip": bool(pool.get("enableNodePublicIP")),
    }


def transform_managed_cluster(raw: dict, subscription: str) -> DiscoveredAsset:
    """``raw`` is a ManagedCluster."""
    properties = raw.get("properties") or {}
    aad = properties.get("aadProfile") or {}
    access = properties.get("apiServerAccessProfile") or {}
    network = properties.get("networkProfile") or {}
    security_profile = properties.get("securityProfile") or {}
    system = raw.get("systemData") or {}
    return DiscoveredAsset(
        key=resource_key(raw["id"]),
        provider=PROVIDER,
        kind="cluster",
        name=raw["name"],
        account=subscription,
        region=raw.get("location", ""),
        namespace=resource_group(raw["id"]),
        labels=dict(raw.get("tags") or {}),
        platform_version=properties.get("currentKubernetesVersion")
        or properties.get("kubernetesVersion", ""),
        endpoints=api_server_endpoints(properties),
        security={
            "rbac": bool(properties.get("enableRBAC")),
            "aad": bool(aad),
            "azure_rbac": bool(aad.get("enableAzureRBAC")),
            "local_accounts": not properties.get("disableLocalAccounts", False),
            "workload_identity": bool(
                (security_profile.get("workloadIdentity") or {}).get("enabled")
            ),
        },
        attributes={
            "private_cluster": bool(access.get("enablePrivateCluster")),
            "authorized_ip_ranges": list(access.get("authorizedIPRanges") or []),
            "node_pools": [_node_pool(p) for p in properties.get("agentPoolProfiles") or []],
            "network_plugin": network.get("networkPlugin", ""),
            "network_policy": network.get("networkPolicy", ""),
            "sku_tier": (raw.get("sku") or {}).get("tier", ""),
            "upgrade_channel": (properties.get("autoUpgradeProfile") or {}).get(
                "upgradeChannel", ""
            ),
            "node_resource_group": properties.get("nodeResourceGroup", ""),
            "identity": (raw.get("identity") or {}).get("type", ""),
            "oidc_issuer": bool((properties.get("oidcIssuerProfile") or {}).get("enabled")),
        },
        state=(properties.get("powerState") or {}).get("code", ""),
        observed={"provisioning_state": properties.get("provisioningState", "")},
        creator=system.get("createdBy", ""),
        created_at=parse_time(system.get("createdAt")),
        modified_at=parse_time(system.get("lastModifiedAt")),
    )
