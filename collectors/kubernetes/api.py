"""Thin reads of one Kubernetes API server: every list is paged with ``limit``/``continue`` and
yields the objects in the API's own JSON shape (camelCase dicts); every failure raises.

Only get and list are used, so the read-only ClusterRole (clusterrole.yaml) is enough.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from collectors import telemetry
from collectors.base import CollectorError

from .transform import server_identity

DEFAULT_PAGE_SIZE = 500
DEFAULT_TIMEOUT = 60
# How often a list is started again when its continue token expired (410 Gone) part-way.
RESTARTS_AFTER_EXPIRY = 2


class ResourceNotServed(CollectorError):
    """The API server does not serve this resource (404): its CRD is not installed."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        message = ""
        try:
            message = json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            message = (exc.body or "")[:200]
        return f"{exc.status} {exc.reason}: {message}".strip(": ")
    return str(exc) or type(exc).__name__


@contextmanager
def _call(name: str):
    """Turn the client's and the transport's failures into a CollectorError naming ``name``.

    A pydantic validation error (a ValueError) means the server answered something that is not
    a Kubernetes object: that is a failure too, never an empty list.
    """
    try:
        yield
    except ApiException as exc:
        error = ResourceNotServed if exc.status == 404 else CollectorError
        raise error(f"kubernetes:{name}", _describe(exc)) from exc
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise CollectorError(f"kubernetes:{name}", _describe(exc)) from exc


def connect(
    kubeconfig_path: str = "",
    context: str = "",
    *,
    in_cluster: bool = False,
    server: str = "",
) -> client.ApiClient:
    """An API client from a kubeconfig file and context (default: KUBECONFIG or ~/.kube/config
    and its current context), or from the pod's service account when ``in_cluster``.
    ``server`` overrides the API server URL the kubeconfig names."""
    where = "in-cluster" if in_cluster else f"{kubeconfig_path or '~/.kube/config'} {context}"
    try:
        if in_cluster:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            api_client = client.ApiClient(configuration)
        else:
            api_client = config.new_client_from_config(
                config_file=kubeconfig_path or None, context=context or None, persist_config=False
            )
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise CollectorError(f"kubernetes:LoadConfig {where.strip()}", str(exc)) from exc
    if server:
        api_client.configuration.host = server.rstrip("/")
    count_requests(api_client)
    return api_client


class _Counting:
    """Mixed into urllib3's connections: every request sent counts for the scope's metrics
    (urllib3 retries by sending again, e.g. after a 429 with Retry-After) and every 429 answer
    counts as throttled."""

    def request(self, *args, **kwargs):
        telemetry.count_call()
        return super().request(*args, **kwargs)

    def getresponse(self, *args, **kwargs):
        response = super().getresponse(*args, **kwargs)
        telemetry.count_status(response.status)
        return response


class _CountingHTTPConnection(_Counting, urllib3.connection.HTTPConnection):
    pass


class _CountingHTTPSConnection(_Counting, urllib3.connection.HTTPSConnection):
    pass


class _CountingHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _CountingHTTPConnection


class _CountingHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _CountingHTTPSConnection


def count_requests(api_client: client.ApiClient) -> None:
    """Count the client's requests through connections of urllib3's own kinds that count. A
    SOCKS proxy's connections are left as they are (its requests go uncounted)."""
    manager = api_client.rest_client.pool_manager
    if manager.pool_classes_by_scheme == urllib3.poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = {"http": _CountingHTTPPool, "https": _CountingHTTPSPool}


def _plain(node):
    """A kubeconfig entry as a dict (the client's merger wraps entries in ConfigNodes)."""
    return getattr(node, "value", node) or {}


def kubeconfig_contexts(kubeconfig_path: str = "") -> list[dict]:
    """The contexts a kubeconfig names ({"name", "cluster", "user", "namespace", "current",
    "server"}), so that clusters no source covers can be listed. ``kubeconfig_path`` may list
    several files as KUBECONFIG does; default: KUBECONFIG or ~/.kube/config."""
    where = kubeconfig_path or config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    try:
        merged = config.kube_config.KubeConfigMerger(where).config
        if merged is None:
            raise ConfigException(f"no kubeconfig found at {where}")
        kubeconfig = _plain(merged)
        servers = {
            _plain(c).get("name"): (_plain(c).get("cluster") or {}).get("server", "")
            for c in kubeconfig.get("clusters") or []
        }
        current = kubeconfig.get("current-context")
        contexts = []
        for entry in kubeconfig.get("contexts") or []:
            entry = _plain(entry)
            context = dict(_plain(entry.get("context")))
            contexts.append(
                {
                    **context,
                    "name": entry["name"],
                    "current": entry["name"] == current,
                    "server": servers.get(context.get("cluster"), ""),
                }
            )
        return contexts
    except (ConfigException, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CollectorError(f"kubernetes:ListContexts {where}", str(exc)) from exc


def source_server(config_values: dict, endpoint_url: str = "") -> str:
    """The server identity of the cluster a source's settings reach ("" when that cannot be
    told without connecting: in-cluster, or an unreadable kubeconfig)."""
    if endpoint_url:
        return server_identity(endpoint_url)
    if config_values.get("in_cluster"):
        return ""
    try:
        contexts = kubeconfig_contexts(config_values.get("kubeconfig_path", ""))
    except CollectorError:
        return ""
    wanted = config_values.get("context")
    for context in contexts:
        if context["name"] == wanted or (not wanted and context["current"]):
            return server_identity(context["server"])
    return ""


def get_version(api_client: client.ApiClient, timeout: int = DEFAULT_TIMEOUT) -> dict:
    with _call("GetVersion"):
        info = client.VersionApi(api_client).get_code(_request_timeout=timeout)
        return api_client.sanitize_for_serialization(info)


def get_namespace(api_client: client.ApiClient, name: str, timeout=DEFAULT_TIMEOUT) -> dict:
    with _call(f"GetNamespace {name}"):
        namespace = client.CoreV1Api(api_client).read_namespace(name, _request_timeout=timeout)
        return api_client.sanitize_for_serialization(namespace)


def _paged(
    name: str,
    fetch: Callable[[str | None], tuple[list, str | None]],
) -> Iterator[dict]:
    """Every item of a list, page by page. When the server says the continue token expired
    (410 Gone), the list starts again and items already yielded are skipped by UID."""
    yielded: set[str] = set()
    restarts = 0
    token = None
    while True:
        try:
            with _call(name):
                items, token = fetch(token)
        except CollectorError as exc:
            status = getattr(exc.__cause__, "status", None)
            if status == 410 and token and restarts < RESTARTS_AFTER_EXPIRY:
                restarts, token = restarts + 1, None
                continue
            raise
        for item in items:
            uid = (item.get("metadata") or {}).get("uid", "")
            if uid and uid in yielded:
                continue
            yielded.add(uid)
            yield item
        if not token:
            return


def list_resource(
    api_client: client.ApiClient,
    api_class: type,
    method: str,
    name: str,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout: int = DEFAULT_TIMEOUT,
) -> Iterator[dict]:
    """Every object of a built-in resource, e.g. ``(client.AppsV1Api,
    "list_deployment_for_all_namespaces", "ListDeployments")``."""
    list_call = getattr(api_class(api_client), method)

    def fetch(token):
        kwargs = {"limit": page_size, "_request_timeout": timeout}
        if token:
            kwargs["_continue"] = token
        page = list_call(**kwargs)
        items = [api_client.sanitize_for_serialization(item) for item in page.items or []]
        return items, (page.metadata._continue if page.metadata else None) or None

    return _paged(name, fetch)


def list_custom_objects(
    api_client: client.ApiClient,
    group: str,
    version: str,
    plural: str,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout: int = DEFAULT_TIMEOUT,
) -> Iterator[dict]:
    """Every object of a custom resource across namespaces; raises ResourceNotServed when the
    API server does not serve it (its CRD is not installed)."""
    custom = client.CustomObjectsApi(api_client)

    def fetch(token):
        kwargs = {"limit": page_size, "_request_timeout": timeout}
        if token:
            kwargs["_continue"] = token
        page = custom.list_cluster_custom_object(group, version, plural, **kwargs)
        return page.get("items") or [], (page.get("metadata") or {}).get("continue") or None

    return _paged(f"List {plural}.{group}/{version}", fetch)


BUILT_IN_LISTS = {
    "nodes": (client.CoreV1Api, "list_node", "ListNodes"),
    "namespaces": (client.CoreV1Api, "list_namespace", "ListNamespaces"),
    "pods": (client.CoreV1Api, "list_pod_for_all_namespaces", "ListPods"),
    "services": (client.CoreV1Api, "list_service_for_all_namespaces", "ListServices"),
    "events": (client.CoreV1Api, "list_event_for_all_namespaces", "ListEvents"),
    "ingresses": (
        client.NetworkingV1Api,
        "list_ingress_for_all_namespaces",
        "ListIngresses",
    ),
    "replicasets": (client.AppsV1Api, "list_replica_set_for_all_namespaces", "ListReplicaSets"),
    "deployments": (client.AppsV1Api, "list_deployment_for_all_namespaces", "ListDeployments"),
    "statefulsets": (
        client.AppsV1Api,
        "list_stateful_set_for_all_namespaces",
        "ListStatefulSets",
    ),
    "daemonsets": (client.AppsV1Api, "list_daemon_set_for_all_namespaces", "ListDaemonSets"),
    "jobs": (client.BatchV1Api, "list_job_for_all_namespaces", "ListJobs"),
    "cronjobs": (client.BatchV1Api, "list_cron_job_for_all_namespaces", "ListCronJobs"),
}


def get_all(api_client: client.ApiClient, resource: str, **paging) -> Iterator[dict]:
    """Every object of one of BUILT_IN_LISTS, e.g. ``get_all(api_client, "deployments")``."""
    api_class, method, name = BUILT_IN_LISTS[resource]
    return list_resource(api_client, api_class, method, name, **paging)
