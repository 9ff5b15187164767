"""Pure functions from Kubernetes API objects (the API's JSON shape) to Daylight's records.

Nothing here calls the API server. Labels, annotations and names are written by whoever can
deploy to the cluster: they are passed on as data, never interpreted.
"""

import fnmatch
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from collectors.docker.hostpaths import is_sensitive_host_path
from collectors.records import DiscoveredAsset, Endpoint

PROVIDER = "kubernetes"
# Annotations worth keeping as ownership evidence; every label is kept.
DEFAULT_OWNER_ANNOTATIONS = ("app.kubernetes.io/*", "team", "owner", "*/team", "*/owner")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
# Annotations by which clouds make a LoadBalancer Service internal-only.
INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": {"true", "0.0.0.0/0"},
    "service.beta.kubernetes.io/aws-load-balancer-scheme": {"internal"},
    "networking.gke.io/load-balancer-type": {"internal"},
    "cloud.google.com/load-balancer-type": {"internal"},
    "service.beta.kubernetes.io/azure-load-balancer-internal": {"true"},
}
_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?)")


def parse_time(value) -> datetime | None:
    """An API timestamp ("2024-05-01T10:00:00Z", or isoformat from the client) as aware UTC."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def kubernetes_version(git_version: str) -> str:
    """ "v1.29.4-eks-2f008fe" -> "1.29.4"."""
    match = _VERSION.match(git_version or "")
    return match[1] if match else ""


MAX_SERVER_IDENTITY = 128  # Scope.account and Asset.account hold this much


def server_identity(url: str) -> str:
    """How a cluster is known for coverage: its API server URL, the same whichever kubeconfig,
    context or user reaches it (scheme and host lowercased, no trailing slash)."""
    parts = urlsplit((url or "").strip())
    if not parts.scheme or not parts.netloc:
        return ""
    identity = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    if len(identity) > MAX_SERVER_IDENTITY:  # stable, and still readable where it starts
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        identity = f"{identity[: MAX_SERVER_IDENTITY - 17]}#{digest}"
    return identity


def cluster_key(cluster_uid: str) -> str:
    return f"k8s://{cluster_uid}"


def object_key(cluster_uid: str, uid: str) -> str:
    return f"{cluster_key(cluster_uid)}/{uid}"


def container_key(workload_key: str, container_name: str) -> str:
    return f"{workload_key}/{container_name}"


@dataclass
class Cluster:
    """What every record of one cluster shares. ``uid`` is the kube-system namespace's UID, the
    cluster's stable identity; ``name`` is how people call it (the kubeconfig's cluster name)."""

    uid: str
    name: str
    owner_annotations: tuple[str, ...] = DEFAULT_OWNER_ANNOTATIONS
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    node_addresses: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return cluster_key(self.uid)


# --- the cluster ---------------------------------------------------------------------------


@dataclass
class NodeSummary:
    """What the cluster asset says of its nodes, gathered while the nodes are listed."""

    count: int = 0
    kubelet_versions: set[str] = field(default_factory=set)
    runtimes: set[str] = field(default_factory=set)
    external_ips: list[str] = field(default_factory=list)
    internal_ips: list[str] = field(default_factory=list)

    def add(self, node: dict) -> None:
        status = node.get("status") or {}
        info = status.get("nodeInfo") or {}
        self.count += 1
        if info.get("kubeletVersion"):
            self.kubelet_versions.add(info["kubeletVersion"])
        if info.get("containerRuntimeVersion"):
            self.runtimes.add(info["containerRuntimeVersion"])
        for address in status.get("addresses") or []:
            if address.get("type") == "ExternalIP":
                self.external_ips.append(address.get("address", ""))
            elif address.get("type") == "InternalIP":
                self.internal_ips.append(address.get("address", ""))


def _is_global(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def transform_cluster(
    cluster: Cluster,
    version: dict,
    nodes: NodeSummary,
    server: str,
    audit_logging: bool | None,
    audit_sources: list[str],
    functions: list[str],
) -> DiscoveredAsset:
    """The cluster: server version (``GET /version``), nodes and kubelet versions, the API
    endpoint, and whether its audit trail reaches Daylight (None: cannot tell)."""
    host = urlsplit(server).hostname or ""
    security = {} if audit_logging is None else {"audit_logging": audit_logging}
    return DiscoveredAsset(
        key=cluster.key,
        provider=PROVIDER,
        kind="cluster",
        name=cluster.name,
        account=cluster.name,
        platform_version=kubernetes_version(version.get("gitVersion", "")),
        endpoints=[Endpoint(server, public=_is_global(host), via="API server")] if server else [],
        security=security,
        attributes={
            "git_version": version.get("gitVersion", ""),
            "platform": version.get("platform", ""),
            "kubelet_versions": sorted(nodes.kubelet_versions),
            "container_runtimes": sorted(nodes.runtimes),
            "cluster_uid": cluster.uid,
            "audit_sources": audit_sources,
            "function_platforms": functions,
        },
        observed={"node_count": nodes.count},
    )


def transform_context(context: dict, source_name: str) -> DiscoveredAsset:
    """A kubeconfig context (as api.kubeconfig_contexts lists it) as an asset of kind "account",
    whose account is its cluster's server identity: when no enabled
    source's cluster scope has that account, the context is an uncovered cluster. Keyed by the
    listing source, as the context's name only means something in its kubeconfig."""
    return DiscoveredAsset(
        key=f"k8s-context://{source_name}/{context['name']}",
        provider=PROVIDER,
        kind="account",
        name=context["name"],
        account=server_identity(context.get("server", "")),
        namespace=context.get("namespace") or "",
        attributes={
            "server": context.get("server", ""),
            "cluster": context.get("cluster", ""),
            "user": context.get("user", ""),
            "current": bool(context.get("current")),
            "listed_by": source_name,
        },
    )


def audit_flags(pod: dict) -> bool | None:
    """Whether a kube-apiserver static pod runs with an audit log or webhook; None for any
    other pod."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if labels.get("component") != "kube-apiserver":
        return None
    for container in (pod.get("spec") or {}).get("containers") or []:
        arguments = [*(container.get("command") or []), *(container.get("args") or [])]
        if any(
            str(a).startswith(("--audit-log-path", "--audit-webhook-config-file"))
            for a in arguments
        ):
            return True
    return False


# --- exposure ------------------------------------------------------------------------------


def selector_matches(selector: dict, labels: dict) -> bool:
    """A Service's selector (equality only) picks pods carrying all its labels; an empty
    selector picks none (such Services point at hand-made endpoints)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _is_internal_lb(annotations: dict) -> bool:
    return any(
        str(annotations.get(key, "")).lower() in values
        for key, values in INTERNAL_LB_ANNOTATIONS.items()
    )


def service_endpoints(service: dict, node_addresses: list[str]) -> list[Endpoint]:
    """Where a Service answers from outside the cluster: its load balancer, its node ports on
    every node, its external IPs. A ClusterIP-only Service has none."""
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    status = service.get("status") or {}
    name = f"{meta.get('namespace')}/{meta.get('name')}"
    kind = spec.get("type") or "ClusterIP"
    endpoints = []
    for port in spec.get("ports") or []:
        number = port.get("port")
        if kind == "LoadBalancer":
            internal = _is_internal_lb(meta.get("annotations") or {})
            ingress = (status.get("loadBalancer") or {}).get("ingress") or []
            addresses = [i.get("ip") or i.get("hostname") for i in ingress] or ["(pending)"]
            ranges = spec.get("loadBalancerSourceRanges") or []
            via = f"LoadBalancer {name}:{number}" + (" internal" if internal else "")
            if ranges:
                via += f" from {', '.join(ranges[:5])}"
            endpoints += [Endpoint(f"{a}:{number}", not internal, via=via) for a in addresses]
        if kind in ("NodePort", "LoadBalancer") and port.get("nodePort"):
            node_port = port["nodePort"]
            hosts = node_addresses[:3] or ["<every node>"]
            endpoints += [
                Endpoint(f"{h}:{node_port}", True, via=f"NodePort {name}:{node_port}")
                for h in hosts
            ]
        for external_ip in spec.get("externalIPs") or []:
            endpoints.append(
                Endpoint(f"{external_ip}:{number}", True, via=f"externalIPs {name}:{number}")
            )
    return endpoints


def ingress_endpoints(ingress: dict) -> list[tuple[str, Endpoint]]:
    """(backend Service name, endpoint) for each host an Ingress routes; HTTPS where its TLS
    section covers the host."""
    meta, spec = ingress.get("metadata") or {}, ingress.get("spec") or {}
    name = f"{meta.get('namespace')}/{meta.get('name')}"
    tls_hosts = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
    lb = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    fallback = next((i.get("ip") or i.get("hostname") for i in lb), "") or "(any host)"
    found = []
    default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default:
        found.append((default, Endpoint(f"http://{fallback}/", True, via=f"Ingress {name}")))
    for rule in spec.get("rules") or []:
        host = rule.get("host") or fallback
        scheme = "https" if host in tls_hosts else "http"
        for path in (rule.get("http") or {}).get("paths") or []:
            backend = ((path.get("backend") or {}).get("service") or {}).get("name")
            if backend:
                address = f"{scheme}://{host}{path.get('path') or '/'}"
                found.append((backend, Endpoint(address, True, via=f"Ingress {name}")))
    return found


@dataclass
class Exposure:
    """Endpoints of each namespace's Services and Ingresses, by the pod labels they select."""

    selectors: dict[tuple[str, str], dict] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], list[Endpoint]] = field(default_factory=dict)

    def add_service(self, service: dict, node_addresses: list[str]) -> None:
        meta = service.get("metadata") or {}
        ident = (meta.get("namespace", ""), meta.get("name", ""))
        self.selectors[ident] = (service.get("spec") or {}).get("selector") or {}
        found = service_endpoints(service, node_addresses)
        if found:
            self.endpoints.setdefault(ident, []).extend(found)

    def add_ingress(self, ingress: dict) -> None:
        namespace = (ingress.get("metadata") or {}).get("namespace", "")
        for backend, endpoint in ingress_endpoints(ingress):
            self.endpoints.setdefault((namespace, backend), []).append(endpoint)

    def for_pods(self, namespace: str, pod_labels: dict) -> list[Endpoint]:
        """Endpoints of the Services (and the Ingresses routing to them) that select pods
        labelled ``pod_labels`` in ``namespace``."""
        found = []
        for (ns, service), endpoints in sorted(self.endpoints.items()):
            if ns == namespace and selector_matches(self.selectors.get((ns, service)), pod_labels):
                found.extend(endpoints)
        return found


# --- workloads and containers --------------------------------------------------------------


def pod_template(obj: dict, kind: str) -> tuple[dict, dict]:
    """(pod labels, pod spec) that a workload of ``kind`` runs."""
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return (obj.get("metadata") or {}).get("labels") or {}, spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return (template.get("metadata") or {}).get("labels") or {}, template.get("spec") or {}


def image_digest(image_id: str) -> str:
    """The "sha256:…" of a container status imageID ("docker-pullable://repo@sha256:…",
    "repo@sha256:…" or "sha256:…")."""
    _, at, digest = (image_id or "").rpartition("@")
    digest = digest if at else image_id or ""
    return digest if digest.startswith("sha256:") else ""


def running_digests(pod: dict) -> dict[str, set[str]]:
    """Container name -> digests its pod actually runs (from the pod's status)."""
    status = pod.get("status") or {}
    found: dict[str, set[str]] = {}
    for entry in [
        *(status.get("containerStatuses") or []),
        *(status.get("initContainerStatuses") or []),
    ]:
        if digest := image_digest(entry.get("imageID", "")):
            found.setdefault(entry.get("name", ""), set()).add(digest)
    return found


def controller_of(obj: dict) -> dict | None:
    """The owner reference that controls ``obj`` (or its only owner), if any."""
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((o for o in owners if o.get("controller")), owners[0] if owners else None)


def evidence_labels(meta: dict, owner_annotations: Iterable[str]) -> dict[str, str]:
    """All labels, plus the annotations that say who owns the object (never all annotations:
    kubectl's last-applied-configuration alone can be the whole manifest)."""
    labels = dict(meta.get("labels") or {})
    for key, value in (meta.get("annotations") or {}).items():
        if key not in labels and any(fnmatch.fnmatchcase(key, p) for p in owner_annotations):
            labels[key] = value
    return labels


def _last_modified(meta: dict) -> datetime | None:
    times = [parse_time(m.get("time")) for m in meta.get("managedFields") or []]
    return max((t for t in times if t), default=None)


def _host_namespaces(pod_spec: dict) -> list[str]:
    return [
        name
        for field_name, name in (("hostNetwork", "network"), ("hostPID", "pid"), ("hostIPC", "ipc"))
        if pod_spec.get(field_name)
    ]


def _replicas(obj: dict, kind: str) -> dict:
    status = obj.get("status") or {}
    if kind == "DaemonSet":
        return {
            "desired": status.get("desiredNumberScheduled", 0),
            "ready": status.get("numberReady", 0),
        }
    if kind in ("Deployment", "StatefulSet"):
        return {
            "desired": (obj.get("spec") or {}).get("replicas", 1),
            "ready": status.get("readyReplicas", 0),
        }
    if kind == "Pod":
        return {"phase": status.get("phase", "")}
    if kind == "CronJob":
        return {"last_schedule": status.get("lastScheduleTime") or ""}
    return {"active": status.get("active", 0), "succeeded": status.get("succeeded", 0)}


def run_as_root(container_context: dict, pod_context: dict) -> bool | None:
    """True when the container runs as UID 0, False when it cannot, None when the image
    decides (no runAsUser, no runAsNonRoot): unknown is not safe."""
    user = container_context.get("runAsUser", pod_context.get("runAsUser"))
    if user is not None:
        return user == 0
    non_root = container_context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    return False if non_root else None


def transform_workload(
    obj: dict,
    kind: str,
    cluster: Cluster,
    digests: dict[str, set[str]],
    exposure: Exposure,
    recent_events: list[dict] | None = None,
) -> Iterator[DiscoveredAsset]:
    """A workload (Deployment, StatefulSet, DaemonSet, Job, CronJob or bare Pod) and, as its
    children, its containers. ``digests`` are what its pods run, by container name;
    ``recent_events`` what the cluster reported about it (events.py), kept as observed."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "")
    pod_labels, pod_spec = pod_template(obj, kind)
    key = object_key(cluster.uid, meta["uid"])
    labels = evidence_labels(meta, cluster.owner_annotations)
    volumes = {
        v.get("name"): (v.get("hostPath") or {}).get("path")
        for v in pod_spec.get("volumes") or []
        if v.get("hostPath")
    }
    service_account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount")
    yield DiscoveredAsset(
        key=key,
        provider=PROVIDER,
        kind="workload",
        name=meta.get("name", ""),
        account=cluster.name,
        namespace=namespace,
        parent_key=cluster.key,
        labels=labels,
        endpoints=exposure.for_pods(namespace, pod_labels),
        security={
            "host_namespaces": _host_namespaces(pod_spec),
            "service_account": service_account or "default",
            "automount_service_account_token": pod_spec.get("automountServiceAccountToken", True),
        },
        attributes={
            "controller": kind,
            "uid": meta["uid"],
            "host_paths": sorted(p for p in volumes.values() if p),
            "namespace_labels": cluster.namespace_labels.get(namespace, {}),
            "owner_kind": (controller_of(obj) or {}).get("kind", ""),
        },
        state=_workload_state(obj, kind),
        observed={
            **_replicas(obj, kind),
            **({"recent_events": recent_events} if recent_events else {}),
        },
        created_at=parse_time(meta.get("creationTimestamp")),
        modified_at=_last_modified(meta),
    )
    for container, init in [
        *((c, True) for c in pod_spec.get("initContainers") or []),
        *((c, False) for c in pod_spec.get("containers") or []),
    ]:
        yield transform_container(container, init, pod_spec, volumes, digests, key, obj, cluster)


def _workload_state(obj: dict, kind: str) -> str:
    status = obj.get("status") or {}
    if kind == "Pod":
        return (status.get("phase") or "").lower()
    if kind == "CronJob":
        return "suspended" if (obj.get("spec") or {}).get("suspend") else "scheduled"
    return "active"


def transform_container(
    container: dict,
    init: bool,
    pod_spec: dict,
    host_volumes: dict[str, str],
    digests: dict[str, set[str]],
    workload_key: str,
    workload: dict,
    cluster: Cluster,
) -> DiscoveredAsset:
    """One container of a workload's pod template, with the security context that applies to
    it and the digest its pods actually run."""
    meta = workload.get("metadata") or {}
    context = container.get("securityContext") or {}
    pod_context = pod_spec.get("securityContext") or {}
    mounted = [
        host_volumes[m.get("name")]
        for m in container.get("volumeMounts") or []
        if host_volumes.get(m.get("name"))
    ]
    running = sorted(digests.get(container["name"], ()))
    image = container.get("image", "")
    pinned = image.partition("@")[2]
    return DiscoveredAsset(
        key=container_key(workload_key, container["name"]),
        provider=PROVIDER,
        kind="container",
        name=f"{meta.get('name', '')}/{container['name']}",
        account=cluster.name,
        namespace=meta.get("namespace", ""),
        parent_key=workload_key,
        labels=evidence_labels(meta, cluster.owner_annotations),
        image=image,
        image_digest=running[0] if running else pinned,
        security={
            "privileged": bool(context.get("privileged")),
            "run_as_root": run_as_root(context, pod_context),
            "allow_privilege_escalation": context.get("allowPrivilegeEscalation"),
            "read_only_rootfs": bool(context.get("readOnlyRootFilesystem")),
            "capabilities_added": list((context.get("capabilities") or {}).get("add") or []),
            "sensitive_mounts": sorted({p for p in mounted if is_sensitive_host_path(p)}),
            "env_names": [e.get("name", "") for e in container.get("env") or []],
        },
        attributes={
            "container": container["name"],
            "init": init,
            "running_digests": running,
            "host_paths": sorted(set(mounted)),
            "resources": container.get("resources") or {},
            "image_pull_policy": container.get("imagePullPolicy", ""),
        },
        created_at=parse_time(meta.get("creationTimestamp")),
    )


# --- functions on Kubernetes ---------------------------------------------------------------


def transform_knative_service(obj: dict, cluster: Cluster) -> Iterator[DiscoveredAsset]:
    """A Knative Service (serving.knative.dev/v1) as a ``function``, public at its URL unless
    it is cluster-local."""
    meta = obj.get("metadata") or {}
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or [{}]
    url = (obj.get("status") or {}).get("url") or ""
    labels = evidence_labels(meta, cluster.owner_annotations)
    visibility = labels.get("networking.knative.dev/visibility", "")
    endpoints = [Endpoint(url, visibility != "cluster-local", via="Knative route")] if url else []
    image = containers[0].get("image", "")
    context = containers[0].get("securityContext") or {}
    yield DiscoveredAsset(
        key=object_key(cluster.uid, meta["uid"]),
        provider=PROVIDER,
        kind="function",
        name=meta.get("name", ""),
        account=cluster.name,
        namespace=meta.get("namespace", ""),
        parent_key=cluster.key,
        labels=labels,
        image=image,
        image_digest=image.partition("@")[2],
        endpoints=endpoints,
        security={
            "run_as_root": run_as_root(context, spec.get("securityContext") or {}),
            "env_names": [e.get("name", "") for e in containers[0].get("env") or []],
            "service_account": spec.get("serviceAccountName") or "default",
        },
        attributes={
            "controller": "KnativeService",
            "platform": "knative",
            "uid": meta["uid"],
            "latest_revision": (obj.get("status") or {}).get("latestReadyRevisionName", ""),
        },
        created_at=parse_time(meta.get("creationTimestamp")),
        modified_at=_last_modified(meta),
    )


def transform_openfaas_function(obj: dict, cluster: Cluster) -> Iterator[DiscoveredAsset]:
    """An OpenFaaS Function (openfaas.com/v1) as a ``function``."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    labels = {**evidence_labels(meta, cluster.owner_annotations), **(spec.get("labels") or {})}
    image = spec.get("image", "")
    yield DiscoveredAsset(
        key=object_key(cluster.uid, meta["uid"]),
        provider=PROVIDER,
        kind="function",
        name=spec.get("name") or meta.get("name", ""),
        account=cluster.name,
        namespace=meta.get("namespace", ""),
        parent_key=cluster.key,
        labels=labels,
        image=image,
        image_digest=image.partition("@")[2],
        security={
            "env_names": sorted((spec.get("environment") or {}).keys()),
            "read_only_rootfs": bool(spec.get("readOnlyRootFilesystem")),
        },
        attributes={
            "controller": "OpenFaaSFunction",
            "platform": "openfaas",
            "uid": meta["uid"],
            "handler": spec.get("handler") or "",
        },
        created_at=parse_time(meta.get("creationTimestamp")),
    )
