"""AKS managed clusters.

The API server is exposed when the cluster is not private and no authorized IP ranges narrow
who may reach it. Service principal secrets, admin passwords and SSH keys in the cluster
resource are never read into a record.

Kubernetes audit logs leave an AKS cluster only through a diagnostic setting that sends the
``kube-audit`` or ``kube-audit-admin`` category (or a group holding them) somewhere. The
installed azure-mgmt-monitor (7.x) no longer wraps diagnostic settings, so they are read at
their documented ARM path through the same authenticated pipeline as the other calls.
"""

from collections.abc import Iterator

from ..records import DiscoveredAsset, Endpoint
from .clients import AzureClients, failure, unless_denied
from .common import PROVIDER, parse_time, resource_group, resource_key

EVERYONE = {"0.0.0.0/0", "::/0"}
DIAGNOSTIC_SETTINGS_API = "2021-05-01-preview"
AUDIT_CATEGORIES = {"kube-audit", "kube-audit-admin"}
AUDIT_GROUPS = {"audit", "alllogs"}  # category groups that include the audit categories
DESTINATIONS = (
    "workspaceId",
    "storageAccountId",
    "eventHubAuthorizationRuleId",
    "marketplacePartnerId",
)


def get_managed_clusters(clients: AzureClients) -> Iterator[dict]:
    call = f"aks:ListManagedClusters {clients.subscription}"
    try:
        for cluster in clients.aks.managed_clusters.list():
            yield cluster.as_dict()
    except Exception as exc:
        raise failure(call, exc) from exc


def get_diagnostic_settings(clients: AzureClients, cluster_id: str) -> list[dict] | None:
    """The cluster's diagnostic settings; None when the credential may not read them (audit
    logging is then unknown)."""
    url = f"{cluster_id}/providers/Microsoft.Insights/diagnosticSettings"
    url += f"?api-version={DIAGNOSTIC_SETTINGS_API}"
    page = unless_denied(
        f"monitor:ListDiagnosticSettings {cluster_id}", lambda: clients.get_json(url)
    )
    return None if page is None else page.get("value") or []


def audit_log_categories(settings: list[dict] | None) -> list[str] | None:
    """The audit categories (or groups) some diagnostic setting sends somewhere: [] when none,
    None when unknown."""
    if settings is None:
        return None
    sent = set()
    for setting in settings:
        properties = setting.get("properties") or {}
        if not any(properties.get(destination) for destination in DESTINATIONS):
            continue
        for log in properties.get("logs") or []:
            if not log.get("enabled"):
                continue
            category = (log.get("category") or "").lower()
            group = (log.get("categoryGroup") or "").lower()
            if category in AUDIT_CATEGORIES or group in AUDIT_GROUPS:
                sent.add(category or group)
    return sorted(sent)


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


def transform_managed_cluster(
    raw: dict, subscription: str, diagnostic_settings: list[dict] | None = None
) -> DiscoveredAsset:
    """``raw`` is a ManagedCluster; ``diagnostic_settings`` its diagnostic settings (None:
    not readable)."""
    properties = raw.get("properties") or {}
    aad = properties.get("aadProfile") or {}
    access = properties.get("apiServerAccessProfile") or {}
    network = properties.get("networkProfile") or {}
    security_profile = properties.get("securityProfile") or {}
    system = raw.get("systemData") or {}
    audit = audit_log_categories(diagnostic_settings)
    security = {
        "rbac": bool(properties.get("enableRBAC")),
        "aad": bool(aad),
        "azure_rbac": bool(aad.get("enableAzureRBAC")),
        "local_accounts": not properties.get("disableLocalAccounts", False),
        "workload_identity": bool((security_profile.get("workloadIdentity") or {}).get("enabled")),
    }
    if audit is not None:
        security["audit_logging"] = bool(audit)
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
        security=security,
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
            "audit_log_categories": audit,
        },
        state=(properties.get("powerState") or {}).get("code", ""),
        observed={"provisioning_state": properties.get("provisioningState", "")},
        creator=system.get("createdBy", ""),
        created_at=parse_time(system.get("createdAt")),
        modified_at=parse_time(system.get("lastModifiedAt")),
    )
