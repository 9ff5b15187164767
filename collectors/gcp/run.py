"""Cloud Run services.

Cloud Run's v2 API lists services one region at a time (it refuses the "-" wildcard), so the
regions come from the source's ``run_regions`` or from the Cloud Run Admin API's location list.
A service that serves a 2nd gen Cloud Function is reported as that function's child.
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
    raw: dict, project: str, policy: dict, function_key: str = ""
) -> DiscoveredAsset:
    """``raw`` is a Cloud Run v2 Service; ``policy`` its IAM policy; ``function_key`` the key of
    the Cloud Function it serves, if any."""
    name = raw["name"]
    template = raw.get("template") or {}
    containers = template.get("containers") or []
    image = _main_container(containers).get("image", "")
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
    return DiscoveredAsset(
        key=full_name(SERVICE, name),
        provider=PROVIDER,
        kind="workload",
        name=name_part(name, "services"),
        account=project,
        region=name_part(name, "locations"),
        parent_key=function_key,
        labels=dict(raw.get("labels") or {}),
        image=image,
        image_digest=image.split("@", 1)[1] if "@sha256:" in image else "",
        endpoints=endpoints,
        security={
            "env_names": env_names(_env(containers, secret=False)),
            "public_invokers": invokers,
            "invoker_iam_disabled": bool(raw.get("invokerIamDisabled")),
        },
        attributes={
            "revision": name_part(raw.get("latestReadyRevision", ""), "revisions"),
            "ingress": ingress,
            "service_account": template.get("serviceAccount", ""),
            "containers": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "ports": [p.get("containerPort") for p in c.get("ports") or []],
                }
                for c in containers
            ],
            "execution_environment": template.get("executionEnvironment", ""),
            "launch_stage": raw.get("launchStage", ""),
            "secret_env_names": env_names(_env(containers, secret=True)),
            "vpc_access": (template.get("vpcAccess") or {}).get("connector", ""),
            "public_bindings": public_bindings_of([policy]),
        },
        state=(raw.get("terminalCondition") or {}).get("state", ""),
        observed={"latest_created_revision": raw.get("latestCreatedRevision", "")},
        creator=raw.get("creator", ""),
        created_at=parse_time(raw.get("createTime")),
        modified_at=parse_time(raw.get("updateTime")),
    )
