"""The Kubernetes collector: one source is one cluster.

Config (every key optional):
  kubeconfig_path  kubeconfig file (default: KUBECONFIG or ~/.kube/config)
  context          context in it (default: its current context); one source per context
  in_cluster       true: use the service account of the pod Daylight runs in
  cluster_name     how the cluster is called in Daylight (default: the context's cluster name)
  owner_annotations
                   annotation keys (globs) kept as ownership evidence beside the labels
                   (default: app.kubernetes.io/*, team, owner, */team, */owner)
  audit_log_path   the API server's JSON-lines audit log, readable from the collecting machine
  audit_webhook_token_env
                   environment variable holding the token of the audit webhook Daylight serves
                   at /api/v1/kubernetes/audit/<source name>/
  recent_events    how many of the cluster's recent Events to keep per workload (default 10;
                   0: Events are not read), see events.py
  list_contexts    true: report every context of the kubeconfig as an asset of kind "account",
                   so the contexts whose cluster no enabled source collects show as uncovered
                   (set it on one source per kubeconfig)
  page_size        objects per list page (default 500)
  timeout          seconds per API call (default 60)

Scopes: "cluster" (the cluster, its workloads, containers and functions; its account is the API
server URL, which is how a cluster is known as covered), when audit_log_path is set
"audit-log", so that an unreadable log never stops the inventory and a failing cluster read never
holds back the access history, and when list_contexts is set "kubeconfig".
"""

from collections.abc import Iterator

from collectors.base import Collector, CollectorError
from collectors.records import Cursor, ScopeSpec

from . import api
from .audit import LogPosition, WorkloadIndex, access_records, read_audit_log
from .events import DEFAULT_PER_WORKLOAD, RecentEvents
from .transform import (
    DEFAULT_OWNER_ANNOTATIONS,
    Cluster,
    Exposure,
    NodeSummary,
    audit_flags,
    controller_of,
    object_key,
    running_digests,
    transform_cluster,
    transform_context,
    transform_knative_service,
    transform_openfaas_function,
    transform_workload,
)

CLUSTER_SCOPE, AUDIT_SCOPE, CONTEXTS_SCOPE = "cluster", "audit-log", "kubeconfig"
FUNCTION_RESOURCES = (
    ("knative", "serving.knative.dev", "v1", "services", transform_knative_service),
    ("openfaas", "openfaas.com", "v1", "functions", transform_openfaas_function),
)


def _merge(digest_maps) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for digests in digest_maps:
        for name, found in digests.items():
            merged.setdefault(name, set()).update(found)
    return merged


class KubernetesCollector(Collector):
    provider = "kubernetes"
    optional_config = (
        "kubeconfig_path",
        "context",
        "in_cluster",
        "cluster_name",
        "owner_annotations",
        "audit_log_path",
        "audit_webhook_token_env",
        "recent_events",
        "list_contexts",
        "page_size",
        "timeout",
    )
    independent_scopes = False  # the audit scope names workloads the cluster scope found

    def __init__(self, source, now):
        super().__init__(source, now)
        self.index = WorkloadIndex()  # filled by the cluster scope, used by the audit scope

    def scopes(self) -> list[ScopeSpec]:
        config = self.source.config
        specs = [
            ScopeSpec(CLUSTER_SCOPE, account=api.source_server(config, self.source.endpoint_url))
        ]
        if config.get("audit_log_path"):
            specs.append(ScopeSpec(AUDIT_SCOPE))
        if config.get("list_contexts") and not config.get("in_cluster"):
            specs.append(ScopeSpec(CONTEXTS_SCOPE))
        return specs

    def collect(self, scope: ScopeSpec, cursor: dict) -> Iterator:
        if scope.key == AUDIT_SCOPE:
            yield from self._audit_log(cursor)
            return
        if scope.key == CONTEXTS_SCOPE:
            path = self.source.config.get("kubeconfig_path", "")
            for context in api.kubeconfig_contexts(path):
                yield transform_context(context, self.source.name)
            return
        api_client = self._connect()
        try:
            yield from self._cluster(api_client)
        finally:
            api_client.close()

    # --- connection ---------------------------------------------------------------------------

    def _connect(self):
        config = self.source.config
        return api.connect(
            config.get("kubeconfig_path", ""),
            config.get("context", ""),
            in_cluster=bool(config.get("in_cluster")),
            server=self.source.endpoint_url,
        )

    def _cluster_name(self, api_client) -> str:
        config = self.source.config
        if config.get("cluster_name"):
            return config["cluster_name"]
        if not config.get("in_cluster"):
            contexts = api.kubeconfig_contexts(config.get("kubeconfig_path", ""))
            wanted = config.get("context")
            for context in contexts:
                if context["name"] == wanted or (not wanted and context.get("current")):
                    return context.get("cluster") or context["name"]
            if contexts and not wanted:
                return contexts[0].get("cluster") or contexts[0]["name"]
        return api_client.configuration.host

    @property
    def _paging(self) -> dict:
        config = self.source.config
        return {
            "page_size": config.get("page_size", api.DEFAULT_PAGE_SIZE),
            "timeout": config.get("timeout", api.DEFAULT_TIMEOUT),
        }

    def _all(self, api_client, resource: str):
        return api.get_all(api_client, resource, **self._paging)

    # --- the cluster scope --------------------------------------------------------------------

    def _cluster(self, api_client) -> Iterator:
        timeout = self._paging["timeout"]
        version = api.get_version(api_client, timeout)
        kube_system = api.get_namespace(api_client, "kube-system", timeout)
        cluster = Cluster(
            uid=kube_system["metadata"]["uid"],
            name=self._cluster_name(api_client),
            owner_annotations=tuple(
                self.source.config.get("owner_annotations") or DEFAULT_OWNER_ANNOTATIONS
            ),
        )
        for namespace in self._all(api_client, "namespaces"):
            meta = namespace["metadata"]
            cluster.namespace_labels[meta["name"]] = meta.get("labels") or {}
        nodes = NodeSummary()
        for node in self._all(api_client, "nodes"):
            nodes.add(node)
        cluster.node_addresses = nodes.external_ips or nodes.internal_ips

        exposure = Exposure()
        for service in self._all(api_client, "services"):
            exposure.add_service(service, cluster.node_addresses)
        for ingress in self._all(api_client, "ingresses"):
            exposure.add_ingress(ingress)

        events = RecentEvents(int(self.source.config.get("recent_events", DEFAULT_PER_WORKLOAD)))
        if events.limit > 0:
            for event in self._all(api_client, "events"):
                events.add(event)

        workloads = _Workloads(cluster, exposure, self.index, events)
        yield from workloads.pods(self._all(api_client, "pods"))
        workloads.replica_sets(self._all(api_client, "replicasets"))
        for resource, kind in (
            ("deployments", "Deployment"),
            ("statefulsets", "StatefulSet"),
            ("daemonsets", "DaemonSet"),
        ):
            yield from workloads.controllers(self._all(api_client, resource), kind)
        yield from workloads.jobs(self._all(api_client, "jobs"))
        yield from workloads.controllers(self._all(api_client, "cronjobs"), "CronJob")
        workloads.index_pods()

        platforms = []
        for platform, group, api_version, plural, transform in FUNCTION_RESOURCES:
            try:
                for obj in api.list_custom_objects(
                    api_client, group, api_version, plural, **self._paging
                ):
                    for record in transform(obj, cluster):
                        self.index.add(
                            record.attributes["controller"],
                            record.namespace,
                            record.name,
                            record.key,
                        )
                        yield record
            except api.ResourceNotServed:
                continue  # the CRD is not installed: nothing of this platform runs here
            platforms.append(platform)

        audit_sources = [
            label
            for label, key in (("file", "audit_log_path"), ("webhook", "audit_webhook_token_env"))
            if self.source.config.get(key)
        ]
        yield transform_cluster(
            cluster,
            version,
            nodes,
            api_client.configuration.host,
            True if audit_sources else workloads.audit_logging,
            audit_sources,
            platforms,
        )

    # --- the audit-log scope ------------------------------------------------------------------

    def _audit_log(self, cursor: dict) -> Iterator:
        path = self.source.config["audit_log_path"]
        position = LogPosition.from_cursor(cursor)
        try:
            yield from access_records(read_audit_log(path, position), self.index)
        except OSError as exc:
            raise CollectorError(f"kubernetes:ReadAuditLog {path}", str(exc)) from exc
        yield Cursor(position.as_cursor())


class _Workloads:
    """Turns the listed pods and controllers of one cluster into workload assets, carrying
    between the lists what each needs of the others: the digests pods run, keyed by the
    controller that owns them; which ReplicaSet belongs to which Deployment and which Job to
    which CronJob; and the recent Events of each, which are mostly about its pods."""

    def __init__(
        self, cluster: Cluster, exposure: Exposure, index: WorkloadIndex, events: RecentEvents
    ):
        self.cluster = cluster
        self.exposure = exposure
        self.index = index
        self.events = events
        self.pods_by_owner: dict[str, list[str]] = {}  # ReplicaSet/Job/controller uid -> pod uids
        self.digests_by_owner: dict[str, dict[str, set[str]]] = {}
        self.children: dict[str, list[str]] = {}  # Deployment/CronJob uid -> ReplicaSet/Job uids
        self.parent: dict[str, str] = {}  # ReplicaSet/Job uid -> Deployment/CronJob uid
        self.pod_owner: dict[tuple[str, str], str] = {}
        self.keys_by_uid: dict[str, str] = {}
        self.audit_logging: bool | None = None

    def _yield_workload(self, obj: dict, kind: str, digests: dict[str, set[str]], related=()):
        """``related``: the uids of the ReplicaSets or Jobs it controls; their events and their
        pods' are the workload's too."""
        meta = obj["metadata"]
        self.keys_by_uid[meta["uid"]] = object_key(self.cluster.uid, meta["uid"])
        self.index.add(kind, meta.get("namespace", ""), meta["name"], self.keys_by_uid[meta["uid"]])
        owners = [meta["uid"], *related]
        pods = [pod for owner in owners for pod in self.pods_by_owner.get(owner, ())]
        recent = self.events.for_objects([*owners, *pods])
        yield from transform_workload(obj, kind, self.cluster, digests, self.exposure, recent)

    def pods(self, pods) -> Iterator:
        """Index what every pod runs by its controller; bare pods are workloads themselves."""
        for pod in pods:
            meta = pod["metadata"]
            flags = audit_flags(pod)
            if flags is not None:
                self.audit_logging = bool(self.audit_logging) or flags
            owner = controller_of(pod)
            if owner is None:
                yield from self._yield_workload(pod, "Pod", running_digests(pod))
                continue
            self.pod_owner[(meta.get("namespace", ""), meta["name"])] = owner["uid"]
            self.pods_by_owner.setdefault(owner["uid"], []).append(meta["uid"])
            found = self.digests_by_owner.setdefault(owner["uid"], {})
            for name, digests in running_digests(pod).items():
                found.setdefault(name, set()).update(digests)

    def replica_sets(self, replica_sets) -> None:
        for replica_set in replica_sets:
            self._adopt(replica_set)

    def _adopt(self, obj: dict) -> bool:
        """Remember ``obj`` as a child of its controller; False when it has none."""
        owner = controller_of(obj)
        if owner is None:
            return False
        uid = obj["metadata"]["uid"]
        self.children.setdefault(owner["uid"], []).append(uid)
        self.parent[uid] = owner["uid"]
        return True

    def controllers(self, objs, kind: str) -> Iterator:
        for obj in objs:
            uid = obj["metadata"]["uid"]
            children = self.children.get(uid, [])
            digests = _merge(self.digests_by_owner.get(child, {}) for child in [uid, *children])
            yield from self._yield_workload(obj, kind, digests, children)

    def jobs(self, jobs) -> Iterator:
        """Jobs a CronJob started are its runs, not workloads of their own."""
        for job in jobs:
            if (controller_of(job) or {}).get("kind") == "CronJob":
                self._adopt(job)
            else:
                yield from self.controllers([job], "Job")

    def index_pods(self) -> None:
        """Tie every listed pod to its workload's asset, for audit events about pods."""
        for ident, owner_uid in self.pod_owner.items():
            top = self.parent.get(owner_uid, owner_uid)
            if key := self.keys_by_uid.get(top):
                self.index.pods[ident] = key
