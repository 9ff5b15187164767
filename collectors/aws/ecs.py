"""ECS on Fargate and EC2: clusters, services, and the containers they run.

Each service becomes a workload asset, and each container definition of its current task
definition a container asset under it (keyed by service and container name, so a new task
definition revision is a change of the same container, not a new one). Tasks started outside
any service (``run_task``, scheduled jobs) become container assets of their own under the
cluster. Running tasks supply the image digests that task definitions do not say.
"""

import threading
from collections.abc import Iterator
from functools import partial

from ..records import DiscoveredAsset, Endpoint
from .common import ScopeContext, chunks, labels_from_tags, last_segment, ordered_map, parse_time
from .session import Region

DESCRIBE_SERVICES_MAX = 10
DESCRIBE_TASKS_MAX = 100
DESCRIBE_CLUSTERS_MAX = 100
DESCRIBE_TARGET_GROUPS_MAX = 20
DESCRIBE_SECURITY_GROUPS_MAX = 200
DESCRIBE_CLASSIC_LOAD_BALANCERS_MAX = 20
INTERNET = {"0.0.0.0/0", "::/0"}
PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17"}
LIST_PAGE_SIZE = 100  # the most ListClusters, ListServices and ListTasks return per call
ROOT_USERS = {"root", "0"}
# Host paths that hand a container the host (its runtime socket, its root, its kernel views).
SENSITIVE_HOST_PATHS = {
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/root",
    "/var/run",
    "/run",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/lib/docker",
}


# --- get --------------------------------------------------------------------------------------


def get_cluster_arns(region: Region) -> Iterator[str]:
    return region.pages("ecs", "list_clusters", "clusterArns", page_size=LIST_PAGE_SIZE)


def get_clusters(region: Region, arns: list[str]) -> list[dict]:
    response = region.call("ecs", "describe_clusters", clusters=arns, include=["TAGS", "SETTINGS"])
    return response.get("clusters", [])


def get_service_arns(region: Region, cluster_arn: str) -> Iterator[str]:
    return region.pages(
        "ecs", "list_services", "serviceArns", page_size=LIST_PAGE_SIZE, cluster=cluster_arn
    )


def get_services(region: Region, cluster_arn: str, arns: list[str]) -> list[dict]:
    response = region.call(
        "ecs", "describe_services", cluster=cluster_arn, services=arns, include=["TAGS"]
    )
    return response.get("services", [])


def get_task_definition(region: Region, arn: str) -> dict:
    """``{"taskDefinition": …, "tags": […]}`` as describe_task_definition answers."""
    return region.call("ecs", "describe_task_definition", taskDefinition=arn, include=["TAGS"])


def get_task_arns(region: Region, cluster_arn: str) -> Iterator[str]:
    return region.pages(
        "ecs", "list_tasks", "taskArns", page_size=LIST_PAGE_SIZE, cluster=cluster_arn
    )


def get_tasks(region: Region, cluster_arn: str, arns: list[str]) -> list[dict]:
    response = region.call(
        "ecs", "describe_tasks", cluster=cluster_arn, tasks=arns, include=["TAGS"]
    )
    return response.get("tasks", [])


def get_target_groups(region: Region, arns: list[str]) -> list[dict]:
    return region.call("elbv2", "describe_target_groups", TargetGroupArns=arns).get(
        "TargetGroups", []
    )


def get_load_balancers(region: Region, arns: list[str]) -> list[dict]:
    return region.call("elbv2", "describe_load_balancers", LoadBalancerArns=arns).get(
        "LoadBalancers", []
    )


def get_classic_load_balancers(region: Region, names: list[str]) -> list[dict]:
    """Classic load balancers by name; [] when one of them no longer exists."""
    response = region.call(
        "elb", "describe_load_balancers", absent=("LoadBalancerNotFound",), LoadBalancerNames=names
    )
    return (response or {}).get("LoadBalancerDescriptions", [])


def get_security_groups(region: Region, group_ids: list[str]) -> list[dict]:
    """The groups by id; [] when one of them no longer exists (the caller then asks singly)."""
    response = region.call(
        "ec2", "describe_security_groups", absent=("InvalidGroup.NotFound",), GroupIds=group_ids
    )
    return (response or {}).get("SecurityGroups", [])


# --- transform --------------------------------------------------------------------------------


def transform_cluster(cluster: dict, *, account: str, region: str, creator: str = ""):
    settings = {s.get("name"): s.get("value") for s in cluster.get("settings", [])}
    return DiscoveredAsset(
        key=cluster["clusterArn"],
        provider="aws",
        kind="cluster",
        name=cluster.get("clusterName") or last_segment(cluster["clusterArn"]),
        account=account,
        region=region,
        labels=labels_from_tags(cluster.get("tags")),
        attributes={
            "service": "ECS",
            "capacity_providers": sorted(cluster.get("capacityProviders", [])),
            "container_insights": settings.get("containerInsights", ""),
        },
        state=cluster.get("status", ""),
        observed={
            "running_tasks": cluster.get("runningTasksCount"),
            "pending_tasks": cluster.get("pendingTasksCount"),
            "active_services": cluster.get("activeServicesCount"),
            "container_instances": cluster.get("registeredContainerInstancesCount"),
        },
        creator=creator,
    )


def launch_type(service_or_task: dict) -> str:
    """FARGATE or EC2 (or EXTERNAL), also when a capacity provider strategy decides it."""
    if service_or_task.get("launchType"):
        return service_or_task["launchType"]
    providers = [
        s.get("capacityProvider", "") for s in service_or_task.get("capacityProviderStrategy", [])
    ]
    if providers and all(p.startswith("FARGATE") for p in providers):
        return "FARGATE"
    return "EC2" if providers else ""


def public_ip_assigned(service_or_task: dict) -> bool:
    vpc = (service_or_task.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return vpc.get("assignPublicIp") == "ENABLED"


def _covers(permission: dict, port, protocol: str) -> bool:
    """Whether an ingress permission applies to ``port``/``protocol``."""
    allowed = str(permission.get("IpProtocol", "")).lower()
    if allowed in ("-1", "all"):
        return True
    if allowed not in (protocol, PROTOCOL_NUMBERS.get(protocol)):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None or port is None:
        return True
    return low == -1 or low <= port <= high


def _ports(permission: dict) -> str:
    protocol = str(permission.get("IpProtocol", ""))
    if protocol in ("-1", "all"):
        return "all traffic"
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def internet_rule(groups: list[dict], port, protocol: str = "tcp") -> str:
    """The first ingress rule of ``groups`` that lets the whole internet reach ``port``, as
    "sg-0abc (web) allows 0.0.0.0/0 on tcp 80"; "" when no rule does."""
    protocol = (protocol or "tcp").lower()
    for group in groups:
        for permission in group.get("IpPermissions", []):
            if not _covers(permission, port, protocol):
                continue
            sources = [r.get("CidrIp") for r in permission.get("IpRanges", [])]
            sources += [r.get("CidrIpv6") for r in permission.get("Ipv6Ranges", [])]
            for cidr in sources:
                if cidr in INTERNET:
                    name = f" ({group['GroupName']})" if group.get("GroupName") else ""
                    return f"{group.get('GroupId', '')}{name} allows {cidr} on {_ports(permission)}"
    return ""


def service_security_groups(service: dict) -> list[str]:
    vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    return list(vpc.get("securityGroups") or [])


def public_ip_endpoints(
    task_definition: dict, group_ids: list[str], security_groups: dict[str, dict] | None
) -> list[Endpoint]:
    """The mapped ports of tasks that get a public IP: reachable from the internet only where
    one of the task's security groups allows 0.0.0.0/0 or ::/0 on that port. Unknown groups
    (none listed, or not readable) leave the verdict public, as AWS would not say otherwise."""
    known = security_groups or {}
    groups = [known[g] for g in group_ids if g in known]
    judged = bool(group_ids) and len(groups) == len(group_ids)
    endpoints = []
    for container in task_definition.get("containerDefinitions", []):
        for mapping in container.get("portMappings", []):
            port = mapping.get("hostPort") or mapping.get("containerPort")
            protocol = mapping.get("protocol", "tcp")
            address = f"task public IP:{port}/{protocol}"
            if not judged:
                via = "assignPublicIp ENABLED (security groups unknown)"
                endpoints.append(Endpoint(address, True, "", via))
                continue
            rule = internet_rule(groups, port, protocol)
            if rule:
                endpoints.append(Endpoint(address, True, "", f"assignPublicIp ENABLED; {rule}"))
            else:
                via = (
                    f"assignPublicIp ENABLED; no rule of {', '.join(group_ids)} opens "
                    f"{port}/{protocol} to the internet"
                )
                endpoints.append(Endpoint(address, False, "", via))
    return endpoints


def service_endpoints(
    service: dict,
    task_definition: dict,
    load_balancers: dict[str, list[dict]],
    security_groups: dict[str, dict] | None = None,
    classic_load_balancers: dict[str, dict] | None = None,
) -> list[Endpoint]:
    """Where the service answers: its load balancers (public when internet-facing), classic
    ones too, and the container ports of tasks that get a public IP, judged by their security
    groups (``security_groups``: group id -> describe_security_groups item)."""
    endpoints = []
    classic = classic_load_balancers or {}
    for attachment in service.get("loadBalancers", []):
        target = f"{attachment.get('containerName', '')}:{attachment.get('containerPort', '')}"
        for lb in load_balancers.get(attachment.get("targetGroupArn", ""), []):
            via = f"load balancer {lb.get('LoadBalancerName', '')} -> {target}"
            public = lb.get("Scheme") == "internet-facing"
            endpoints.append(Endpoint(lb.get("DNSName", ""), public, "", via))
        found = classic.get(attachment.get("loadBalancerName") or "")
        if found:
            via = f"classic load balancer {found.get('LoadBalancerName', '')} -> {target}"
            public = found.get("Scheme") == "internet-facing"
            endpoints.append(Endpoint(found.get("DNSName", ""), public, "", via))
    if public_ip_assigned(service):
        endpoints += public_ip_endpoints(
            task_definition, service_security_groups(service), security_groups
        )
    return endpoints


def transform_service(
    service: dict,
    task_definition: dict,
    load_balancers: dict[str, list[dict]],
    *,
    account: str,
    region: str,
    creator: str = "",
    security_groups: dict[str, dict] | None = None,
    classic_load_balancers: dict[str, dict] | None = None,
) -> DiscoveredAsset:
    """A service as a workload. ``task_definition`` is its current one (may be {} if unknown)."""
    return DiscoveredAsset(
        key=service["serviceArn"],
        provider="aws",
        kind="workload",
        name=service.get("serviceName", last_segment(service["serviceArn"])),
        account=account,
        region=region,
        parent_key=service.get("clusterArn", ""),
        labels=labels_from_tags(service.get("tags")),
        endpoints=service_endpoints(
            service, task_definition, load_balancers, security_groups, classic_load_balancers
        ),
        attributes={
            "service": "ECS",
            "launch_type": launch_type(service),
            "platform_version": service.get("platformVersion", ""),
            "task_definition": service.get("taskDefinition", ""),
            "scheduling_strategy": service.get("schedulingStrategy", ""),
            "desired_count": service.get("desiredCount"),
            "network_mode": task_definition.get("networkMode", ""),
            "assign_public_ip": public_ip_assigned(service),
            "security_groups": service_security_groups(service),
            "load_balancers": [
                {
                    "target_group": lb.get("targetGroupArn", ""),
                    "classic": lb.get("loadBalancerName", ""),
                    "container": lb.get("containerName", ""),
                    "port": lb.get("containerPort"),
                }
                for lb in service.get("loadBalancers", [])
            ],
        },
        state=service.get("status", ""),
        observed={
            "running_count": service.get("runningCount"),
            "pending_count": service.get("pendingCount"),
        },
        creator=service.get("createdBy", "") or creator,
        created_at=parse_time(service.get("createdAt")),
    )


def runs_as_root(user: str | None) -> bool:
    """An unset user runs as the image's default, which for nearly every image is root."""
    if not user:
        return True
    return user.split(":", 1)[0].strip().lower() in ROOT_USERS


def container_security(container: dict, task_definition: dict) -> dict:
    volumes = {
        v.get("name"): ((v.get("host") or {}).get("sourcePath") or "")
        for v in task_definition.get("volumes", [])
    }
    mounted = [volumes.get(m.get("sourceVolume"), "") for m in container.get("mountPoints", [])]
    shared = [
        namespace
        for namespace, mode in (
            ("network", task_definition.get("networkMode")),
            ("pid", task_definition.get("pidMode")),
            ("ipc", task_definition.get("ipcMode")),
        )
        if mode == "host"
    ]
    linux = container.get("linuxParameters") or {}
    return {
        "privileged": bool(container.get("privileged", False)),
        "run_as_root": runs_as_root(container.get("user")),
        "read_only_rootfs": bool(container.get("readonlyRootFilesystem", False)),
        "env_names": sorted(e.get("name", "") for e in container.get("environment", [])),
        "secret_refs": sorted(s.get("name", "") for s in container.get("secrets", [])),
        "capabilities_added": sorted((linux.get("capabilities") or {}).get("add", [])),
        "host_namespaces": shared,
        "sensitive_mounts": sorted(
            {path for path in mounted if path and (path.rstrip("/") or "/") in SENSITIVE_HOST_PATHS}
        ),
        "task_role": task_definition.get("taskRoleArn", ""),
    }


def transform_containers(
    task_definition: dict,
    *,
    key_prefix: str,
    parent_key: str,
    parent_name: str,
    labels: dict[str, str],
    digests: dict[str, str],
    running_images: dict[str, str] | None = None,
    account: str,
    region: str,
    launch: str = "",
    created_at=None,
    state: str = "",
) -> list[DiscoveredAsset]:
    """One container asset per container definition, keyed ``{key_prefix}/container/{name}``.

    ``digests`` (and ``running_images``) map a container name to what a running task reported.
    """
    family = task_definition.get("family", "")
    revision = task_definition.get("revision")
    assets = []
    for container in task_definition.get("containerDefinitions", []):
        name = container.get("name", "")
        assets.append(
            DiscoveredAsset(
                key=f"{key_prefix}/container/{name}",
                provider="aws",
                kind="container",
                name=f"{parent_name}/{name}",
                account=account,
                region=region,
                parent_key=parent_key,
                labels=labels,
                image=(running_images or {}).get(name) or container.get("image", ""),
                image_digest=digests.get(name, ""),
                security=container_security(container, task_definition),
                attributes={
                    "service": "ECS",
                    "task_definition": f"{family}:{revision}" if family else "",
                    "launch_type": launch,
                    "essential": container.get("essential", True),
                    "cpu": container.get("cpu"),
                    "memory_mb": container.get("memory") or container.get("memoryReservation"),
                    "port_mappings": [
                        {
                            "container_port": m.get("containerPort"),
                            "host_port": m.get("hostPort"),
                            "protocol": m.get("protocol", "tcp"),
                        }
                        for m in container.get("portMappings", [])
                    ],
                    "execution_role": task_definition.get("executionRoleArn", ""),
                },
                state=state,
                created_at=created_at,
            )
        )
    return assets


def running_digests(tasks: list[dict]) -> dict[tuple[str, str], str]:
    """(task definition ARN, container name) -> the image digest a running task reported."""
    found = {}
    for task in tasks:
        for container in task.get("containers", []):
            if container.get("imageDigest"):
                found.setdefault(
                    (task.get("taskDefinitionArn", ""), container.get("name", "")),
                    container["imageDigest"],
                )
    return found


def standalone(task: dict) -> bool:
    """Started on its own, not by a service (whose tasks the service asset stands for)."""
    return not (task.get("group") or "").startswith("service:")


def task_container_key(
    task: str, container: str, group: str, tasks: dict[str, tuple], services: dict
) -> str:
    """The key of the container asset a task event is about, or "" when ECS no longer lists
    the task. A service's task is one of its replicas: the service's container stands for it."""
    known = tasks.get(task) or tasks.get(last_segment(task))
    if known is None:
        return ""
    task_arn, cluster_arn, known_group, names = known
    name = container or (names[0] if names else "")
    group = known_group or group
    if not name:
        return ""
    if group.startswith("service:"):
        service = services.get((cluster_arn, group.split(":", 1)[1]))
        return f"{service}/container/{name}" if service else ""
    return f"{task_arn}/container/{name}"


def remember_tasks(tasks: list[dict], cluster_arn: str, known: dict[str, tuple]) -> None:
    for task in tasks:
        arn = task["taskArn"]
        names = [c.get("name", "") for c in task.get("containers", []) if c.get("name")]
        known[arn] = known[last_segment(arn)] = (arn, cluster_arn, task.get("group") or "", names)


def index_load_balancers(target_groups: list[dict], load_balancers: list[dict]):
    """Target group ARN -> the load balancers that forward to it."""
    by_arn = {lb["LoadBalancerArn"]: lb for lb in load_balancers}
    return {
        tg["TargetGroupArn"]: [by_arn[a] for a in tg.get("LoadBalancerArns", []) if a in by_arn]
        for tg in target_groups
    }


# --- collect ----------------------------------------------------------------------------------


class _RegionReader:
    """Reads a region's clusters, remembering what every cluster shares: task definitions, load
    balancers and security groups already looked up."""

    def __init__(self, region: Region, context: ScopeContext):
        self.region = region
        self.context = context
        self.task_definitions: dict[str, dict] = {}  # ARN -> describe_task_definition response
        self.load_balancers: dict[str, list[dict]] = {}  # target group ARN -> load balancers
        self.classic_load_balancers: dict[str, dict] = {}  # name -> classic load balancer
        self.security_groups: dict[str, dict] = {}  # group id -> security group
        self._lock = threading.Lock()  # services are read by several workers at once

    def task_definition(self, arn: str) -> dict:
        with self._lock:
            known = self.task_definitions.get(arn)
        if arn and known is None:
            known = get_task_definition(self.region, arn)
            with self._lock:
                self.task_definitions[arn] = known
        return known or {}

    def _unknown(self, wanted: set[str], known: dict) -> list[str]:
        with self._lock:
            return sorted(w for w in wanted if w and w not in known)

    def learn_load_balancers(self, services: list[dict]) -> None:
        attached = [lb for s in services for lb in s.get("loadBalancers", [])]
        wanted = self._unknown({lb.get("targetGroupArn") for lb in attached}, self.load_balancers)
        for batch in chunks(wanted, DESCRIBE_TARGET_GROUPS_MAX):
            groups = get_target_groups(self.region, batch)
            lb_arns = sorted({a for g in groups for a in g.get("LoadBalancerArns", [])})
            balancers = [
                lb
                for lb_batch in chunks(lb_arns, DESCRIBE_TARGET_GROUPS_MAX)
                for lb in get_load_balancers(self.region, lb_batch)
            ]
            with self._lock:
                self.load_balancers.update(index_load_balancers(groups, balancers))
        names = self._unknown(
            {lb.get("loadBalancerName") for lb in attached}, self.classic_load_balancers
        )
        for batch in chunks(names, DESCRIBE_CLASSIC_LOAD_BALANCERS_MAX):
            found = _each_if_any_absent(
                batch, lambda names: get_classic_load_balancers(self.region, names)
            )
            with self._lock:
                self.classic_load_balancers.update({lb["LoadBalancerName"]: lb for lb in found})

    def learn_security_groups(self, services: list[dict]) -> None:
        """The groups of services whose tasks get a public IP: they decide its exposure."""
        wanted = self._unknown(
            {g for s in services if public_ip_assigned(s) for g in service_security_groups(s)},
            self.security_groups,
        )
        for batch in chunks(wanted, DESCRIBE_SECURITY_GROUPS_MAX):
            found = _each_if_any_absent(batch, lambda ids: get_security_groups(self.region, ids))
            with self._lock:
                self.security_groups.update({g["GroupId"]: g for g in found})

    def read_services(self, cluster_arn: str, arns: list[str]):
        services = get_services(self.region, cluster_arn, arns)
        self.learn_load_balancers(services)
        self.learn_security_groups(services)
        return [(s, self.task_definition(s.get("taskDefinition", ""))) for s in services]


def _each_if_any_absent(names: list[str], read) -> list[dict]:
    """``read(names)``; AWS fails a batch that names one missing resource, so when a batch
    comes back empty, ask for each on its own and keep those that still exist."""
    found = read(names)
    if found or len(names) == 1:
        return found
    return [item for name in names for item in read([name])]


def collect(region: Region, context: ScopeContext) -> Iterator[DiscoveredAsset]:
    """Every cluster, service and container of the region, streamed cluster by cluster."""
    reader = _RegionReader(region, context)
    for batch in chunks(list(get_cluster_arns(region)), DESCRIBE_CLUSTERS_MAX):
        for cluster in get_clusters(region, batch):
            yield from _cluster_assets(reader, cluster)


def _cluster_assets(reader: _RegionReader, cluster: dict) -> Iterator[DiscoveredAsset]:
    region, context = reader.region, reader.context
    cluster_arn = cluster["clusterArn"]
    yield transform_cluster(
        cluster,
        account=region.account,
        region=region.region,
        creator=context.creators.get(cluster_arn, ""),
    )
    digests: dict[tuple[str, str], str] = {}
    for task_batch in chunks(list(get_task_arns(region, cluster_arn)), DESCRIBE_TASKS_MAX):
        tasks = get_tasks(region, cluster_arn, task_batch)
        digests.update(running_digests(tasks))
        remember_tasks(tasks, cluster_arn, context.ecs_tasks)
        for task in filter(standalone, tasks):
            yield from _standalone_containers(reader, task, region.account, region.region)

    service_batches = chunks(list(get_service_arns(region, cluster_arn)), DESCRIBE_SERVICES_MAX)
    read = partial(reader.read_services, cluster_arn)
    for _, described in ordered_map(read, service_batches, context.workers):
        for service, definition in described:
            context.ecs_services[(cluster_arn, service.get("serviceName", ""))] = service[
                "serviceArn"
            ]
            yield from _service_assets(service, definition, reader, digests, context)


def _service_assets(service, definition, reader, digests, context):
    asset = transform_service(
        service,
        definition.get("taskDefinition", {}),
        reader.load_balancers,
        account=reader.region.account,
        region=reader.region.region,
        creator=context.creators.get(service["serviceArn"], ""),
        security_groups=reader.security_groups,
        classic_load_balancers=reader.classic_load_balancers,
    )
    yield asset
    task_definition = definition.get("taskDefinition", {})
    td_arn = task_definition.get("taskDefinitionArn", "")
    yield from transform_containers(
        task_definition,
        key_prefix=asset.key,
        parent_key=asset.key,
        parent_name=asset.name,
        labels={**labels_from_tags(definition.get("tags")), **asset.labels},
        digests={c: d for (arn, c), d in digests.items() if arn == td_arn},
        account=asset.account,
        region=asset.region,
        launch=asset.attributes["launch_type"],
        state=asset.state,
    )


def _standalone_containers(reader: _RegionReader, task: dict, account: str, region: str):
    definition = reader.task_definition(task.get("taskDefinitionArn", ""))
    containers = task.get("containers", [])
    yield from transform_containers(
        definition.get("taskDefinition", {}),
        key_prefix=task["taskArn"],
        parent_key=task.get("clusterArn", ""),
        parent_name=f"{last_segment(task.get('clusterArn', ''))}/{last_segment(task['taskArn'])}",
        labels={**labels_from_tags(definition.get("tags")), **labels_from_tags(task.get("tags"))},
        digests={
            c.get("name", ""): c.get("imageDigest", "") for c in containers if c.get("imageDigest")
        },
        running_images={
            c.get("name", ""): c.get("image", "") for c in containers if c.get("image")
        },
        account=account,
        region=region,
        launch=launch_type(task),
        created_at=parse_time(task.get("createdAt")),
        state=(task.get("lastStatus") or "").lower(),
    )
