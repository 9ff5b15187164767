"""Cloud Run services.

Cloud Run's v2 API lists services one region at a time (it refuses the "-" wildcard), so the
regions come from the source's ``run_regions`` or from the Cloud Run Admin API's location list.
A service that serves a 2nd gen Cloud Function is reported as that function's child.

The v2 API reports a service's images as deployed (often by tag); the digest each container
resolved to is in the status of the serving revisions, which only the v1 (Knative) Admin API
reports, so the revisions that receive traffic are read there. A multi-container service's
containers (ingress and sidecars) are reported as its ``container`` children.
"""

from collections.abc import Iterator

from google.cloud import run_v2

from ..records import DiscoveredAsset, Endpoint
from .clients import RETRY, TIMEOUT, GcpClients, failure, get_iam_policy
from .common import (
    PROVIDER,
    as_rest,
    env_names,
    full_name,
    invoker_auth,
    name_part,
    parse_time,
    public_invokers,
)
from .functions import INVOKER_ROLES, public_bindings_of

SERVICE = "run.googleapis.com"
ENDPOINT = "https://run.googleapis.com"
PUBLIC_INGRESS = {"", "INGRESS_TRAFFIC_UNSPECIFIED", "INGRESS_TRAFFIC_ALL"}
# The v1 API's get methods answer on regional endpoints only.
REGIONAL_ENDPOINT = "https://{region}-run.googleapis.com"


def service_key(name: str) -> str:
    return full_name(SERVICE, name)


def get_run_locations(clients: GcpClients, project: str) -> list[str]:
    """The region ids where Cloud Run can hold services of ``project``."""
    call = f"run:ListLocations {project}"
    url = f"{clients.endpoint(ENDPOINT)}/v1/projects/{project}/locations"
    regions, token = [], ""
    try:
        while True:
            response = clients.get_json(url, {"pageToken": token} if token else {})
            regions += [loc["locationId"] for loc in response.get("locations") or []]
            token = response.get("nextPageToken", "")
            if not token:
                return regions
    except Exception as exc:
        raise failure(call, exc) from exc


def get_services(clients: GcpClients, project: str, region: str) -> Iterator[dict]:
    call = f"run:ListServices {project}/{region}"
    try:
        pager = clients.run.list_services(
            request=run_v2.ListServicesRequest(parent=f"projects/{project}/locations/{region}"),
            retry=RETRY,
            timeout=TIMEOUT,
        )
        for service in pager:
            yield as_rest(service)
    except Exception as exc:
        raise failure(call, exc) from exc


def get_service_iam_policy(clients: GcpClients, name: str) -> dict:
    return get_iam_policy(clients.run.get_iam_policy, name, "run:GetIamPolicy")


def get_revision(clients: GcpClients, project: str, region: str, revision: str) -> dict:
    """A revision as the v1 Admin API's Knative Revision, whose status has the digests."""
    call = f"run:GetRevision {project}/{region}/{revision}"
    base = clients.endpoint(REGIONAL_ENDPOINT.format(region=region))
    url = f"{base}/apis/serving.knative.dev/v1/namespaces/{project}/revisions/{revision}"
    try:
        return clients.get_json(url, {})
    except Exception as exc:
        raise failure(call, exc) from exc


def serving_revisions(raw: dict) -> list[tuple[str, int]]:
    """(revision id, percent of traffic) of the revisions of a v2 Service that receive traffic,
    most traffic first; the latest ready revision when the service reports no split."""
    latest = name_part(raw.get("latestReadyRevision", ""), "revisions")
    shares: dict[str, int] = {}
    for status in raw.get("trafficStatuses") or []:
        # A target of type LATEST names no revision: it is the latest ready one.
        revision = (status.get("revision") or latest).rsplit("/", 1)[-1]
        if revision and status.get("percent"):
            shares[revision] = shares.get(revision, 0) + int(status["percent"])
    if not shares and latest:
        shares[latest] = 100
    return sorted(shares.items(), key=lambda share: (-share[1], share[0]))


def _digest(reference: str) -> str:
    """ "sha256:…" from a resolved image reference ("registry/image@sha256:…")."""
    digest = reference.rpartition("@")[2]
    return digest if digest.startswith("sha256:") else ""


def running_images(revision: dict) -> dict[str, tuple[str, str]]:
    """container name → (image, resolved digest) in a v1 Revision. A revision of one container
    reports its digest as ``status.imageDigest`` (and may leave the container unnamed); one of
    several reports each in ``status.containerStatuses``."""
    containers = (revision.get("spec") or {}).get("containers") or []
    status = revision.get("status") or {}
    digests = {
        s.get("name", ""): _digest(s.get("imageDigest", ""))
        for s in status.get("containerStatuses") or []
    }
    if len(containers) == 1:
        digests.setdefault(containers[0].get("name", ""), _digest(status.get("imageDigest", "")))
    return {
        c.get("name", ""): (c.get("image", ""), digests.get(c.get("name", ""), ""))
        for c in containers
    }


def _running(container: dict, running: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """What runs for a template ``container``: (image, digest) from the serving revision, else
    the template's image and the digest it is pinned to."""
    image = container.get("image", "")
    found = running.get(container.get("name", ""))
    if found is None and len(running) == 1:
        found = next(iter(running.values()))  # a lone container, named in one API only
    if found and found[1]:
        return found[0] or image, found[1]
    return image, _digest(image)


def _main_container(containers: list[dict]) -> dict:
    """The container that receives requests: the one with a port, else the first."""
    return next((c for c in containers if c.get("ports")), containers[0] if containers else {})


def _env(containers: list[dict], *, secret: bool) -> list[str]:
    """Names of the containers' variables set from Secret Manager (``secret``) or inline."""
    return [
        e.get("name", "")
        for c in containers
        for e in c.get("env") or []
        if ("valueSource" in e) == secret
    ]


def transform_service(
    raw: dict,
    project: str,
    policy: dict,
    function_key: str = "",
    revisions: list[dict] | None = None,
    creator: str = "",
) -> list[DiscoveredAsset]:
    """``raw`` is a Cloud Run v2 Service; ``policy`` its IAM policy; ``function_key`` the key of
    the Cloud Function it serves, if any; ``revisions`` the v1 Revisions that receive traffic,
    most traffic first; ``creator`` who created it by the audit log, for when the service does
    not say. The service, then its containers when it has more than one."""
    name = raw["name"]
    template = raw.get("template") or {}
    containers = template.get("containers") or []
    running = running_images(revisions[0]) if revisions else {}
    image, digest = _running(_main_container(containers), running)
    ingress = raw.get("ingress", "")
    invokers = public_invokers([policy], INVOKER_ROLES)
    auth = "none" if raw.get("invokerIamDisabled") else invoker_auth(invokers)
    endpoints = []
    if not raw.get("defaultUriDisabled"):
        urls = raw.get("urls") or ([raw["uri"]] if raw.get("uri") else [])
        endpoints = [
            Endpoint(
                url,
                public=ingress in PUBLIC_INGRESS,
                auth=auth,
                via=f"run.app URL, ingress {ingress or 'INGRESS_TRAFFIC_ALL'}",
            )
            for url in urls
        ]
    service = DiscoveredAsset(
        key=service_key(name),
        provider=PROVIDER,
        kind="workload",
        name=name_part(name, "services"),
        account=project,
        region=name_part(name, "locations"),
        parent_key=function_key,
        labels=dict(raw.get("labels") or {}),
        image=image,
        image_digest=digest,
        endpoints=endpoints,
        security={
            "env_names": env_names(_env(containers, secret=False)),
            "public_invokers": invokers,
            "invoker_iam_disabled": bool(raw.get("invokerIamDisabled")),
        },
        attributes={
            "revision": name_part(raw.get("latestReadyRevision", ""), "revisions"),
            "serving_revisions": [
                {"revision": revision, "percent": percent}
                for revision, percent in serving_revisions(raw)
            ],
            "ingress": ingress,
            "service_account": template.get("serviceAccount", ""),
            "containers": [_summary(c, running) for c in containers],
            "execution_environment": template.get("executionEnvironment", ""),
            "launch_stage": raw.get("launchStage", ""),
            "secret_env_names": env_names(_env(containers, secret=True)),
            "vpc_access": (template.get("vpcAccess") or {}).get("connector", ""),
            "public_bindings": public_bindings_of([policy]),
        },
        state=(raw.get("terminalCondition") or {}).get("state", ""),
        observed={"latest_created_revision": raw.get("latestCreatedRevision", "")},
        creator=raw.get("creator") or creator,
        created_at=parse_time(raw.get("createTime")),
        modified_at=parse_time(raw.get("updateTime")),
    )
    if len(containers) < 2:
        return [service]
    return [service] + [_container(service, c, running) for c in containers]


def _summary(container: dict, running: dict) -> dict:
    image, digest = _running(container, running)
    return {
        "name": container.get("name", ""),
        "image": image,
        "digest": digest,
        "ports": [p.get("containerPort") for p in container.get("ports") or []],
    }


def _container(service: DiscoveredAsset, container: dict, running: dict) -> DiscoveredAsset:
    """One container of a multi-container service: the ingress container or a sidecar."""
    image, digest = _running(container, running)
    name = container.get("name", "")
    return DiscoveredAsset(
        key=f"{service.key}/containers/{name}",
        provider=PROVIDER,
        kind="container",
        name=f"{service.name}/{name}",
        account=service.account,
        region=service.region,
        parent_key=service.key,
        labels=service.labels,
        image=image,
        image_digest=digest,
        security={"env_names": env_names(_env([container], secret=False))},
        attributes={
            "container": name,
            "role": "ingress" if container.get("ports") else "sidecar",
            "ports": [p.get("containerPort") for p in container.get("ports") or []],
            "depends_on": list(container.get("dependsOn") or []),
            "secret_env_names": env_names(_env([container], secret=True)),
        },
        state=service.state,
        created_at=service.created_at,
    )
