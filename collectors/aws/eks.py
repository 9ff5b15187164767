"""EKS clusters: Kubernetes version, API endpoint exposure, control-plane logging, node groups."""

from collections.abc import Iterator

from ..records import DiscoveredAsset, Endpoint
from .common import ScopeContext, labels_from_tags, ordered_map, parse_time
from .session import Region

EVERYWHERE = {"0.0.0.0/0", "::/0"}


# --- get --------------------------------------------------------------------------------------


def get_cluster_names(region: Region) -> Iterator[str]:
    return region.pages("eks", "list_clusters", "clusters")


def get_cluster(region: Region, name: str) -> dict:
    return region.call("eks", "describe_cluster", name=name)["cluster"]


def get_nodegroup_names(region: Region, cluster: str) -> list[str]:
    return list(region.pages("eks", "list_nodegroups", "nodegroups", clusterName=cluster))


def get_nodegroup(region: Region, cluster: str, name: str) -> dict:
    return region.call("eks", "describe_nodegroup", clusterName=cluster, nodegroupName=name)[
        "nodegroup"
    ]


# --- transform --------------------------------------------------------------------------------


def enabled_log_types(cluster: dict) -> list[str]:
    logging = (cluster.get("logging") or {}).get("clusterLogging", [])
    return sorted({t for entry in logging if entry.get("enabled") for t in entry.get("types", [])})


def cluster_endpoints(cluster: dict) -> list[Endpoint]:
    """The API server endpoint: public when its public access is open to the whole internet."""
    vpc = cluster.get("resourcesVpcConfig") or {}
    address = cluster.get("endpoint", "")
    if not address:
        return []
    if vpc.get("endpointPublicAccess", True):
        cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]  # AWS's default when unset
        everywhere = bool(EVERYWHERE & set(cidrs))
        via = "public endpoint, " + ("open to 0.0.0.0/0" if everywhere else "allowed: ")
        if not everywhere:
            via += ", ".join(cidrs[:10])
        return [Endpoint(address, everywhere, "iam", via)]
    return [Endpoint(address, False, "iam", "private endpoint (VPC only)")]


def transform_nodegroup(nodegroup: dict) -> dict:
    scaling = nodegroup.get("scalingConfig") or {}
    return {
        "name": nodegroup.get("nodegroupName", ""),
        "version": nodegroup.get("version", ""),
        "release_version": nodegroup.get("releaseVersion", ""),
        "ami_type": nodegroup.get("amiType", ""),
        "capacity_type": nodegroup.get("capacityType", ""),
        "instance_types": nodegroup.get("instanceTypes", []),
        "min_size": scaling.get("minSize"),
        "max_size": scaling.get("maxSize"),
        "ssh_access": bool(nodegroup.get("remoteAccess")),
        "node_role": nodegroup.get("nodeRole", ""),
    }


def transform_cluster(
    cluster: dict, nodegroups: list[dict], *, account: str, region: str, creator: str = ""
) -> DiscoveredAsset:
    vpc = cluster.get("resourcesVpcConfig") or {}
    log_types = enabled_log_types(cluster)
    return DiscoveredAsset(
        key=cluster["arn"],
        provider="aws",
        kind="cluster",
        name=cluster.get("name", ""),
        account=account,
        region=region,
        labels=labels_from_tags(cluster.get("tags")),
        platform_version=cluster.get("version", ""),
        endpoints=cluster_endpoints(cluster),
        security={
            "audit_logging": "audit" in log_types,
            "role": cluster.get("roleArn", ""),
        },
        attributes={
            "service": "EKS",
            "eks_platform_version": cluster.get("platformVersion", ""),
            "control_plane_logs": log_types,
            "endpoint_public_access": vpc.get("endpointPublicAccess", True),
            "endpoint_private_access": vpc.get("endpointPrivateAccess", False),
            "public_access_cidrs": vpc.get("publicAccessCidrs", []),
            "authentication_mode": (cluster.get("accessConfig") or {}).get(
                "authenticationMode", ""
            ),
            "node_groups": [transform_nodegroup(n) for n in nodegroups],
        },
        state=cluster.get("status", ""),
        creator=creator,
        created_at=parse_time(cluster.get("createdAt")),
    )


# --- collect ----------------------------------------------------------------------------------


def collect(region: Region, context: ScopeContext) -> Iterator[DiscoveredAsset]:
    def read(name):
        cluster = get_cluster(region, name)
        nodegroups = [get_nodegroup(region, name, n) for n in get_nodegroup_names(region, name)]
        return cluster, nodegroups

    for _, (cluster, nodegroups) in ordered_map(read, get_cluster_names(region), context.workers):
        yield transform_cluster(
            cluster,
            nodegroups,
            account=region.account,
            region=region.region,
            creator=context.creators.get(cluster["arn"], ""),
        )
