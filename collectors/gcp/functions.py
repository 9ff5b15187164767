"""Cloud Functions, through the 2nd gen API (which lists 1st gen functions too).

A function is public when its ingress admits the internet and its invoker policy grants
allUsers or allAuthenticatedUsers. For 1st gen the invoker role lives on the function; for 2nd
gen it lives on the Cloud Run service that serves the function, so both policies are read.
"""

from collections.abc import Iterator

from google.cloud import functions_v2

from ..records import DiscoveredAsset, Endpoint
from .clients import RETRY, TIMEOUT, GcpClients, failure, get_iam_policy
from .common import (
    PROVIDER,
    as_rest,
    canonical_runtime,
    env_names,
    full_name,
    invoker_auth,
    name_part,
    parse_time,
    public_bindings,
    public_invokers,
)

SERVICE = "cloudfunctions.googleapis.com"
# Roles that carry cloudfunctions.functions.invoke (1st gen) or run.routes.invoke (2nd gen).
INVOKER_ROLES = frozenset(
    {
        "roles/cloudfunctions.invoker",
        "roles/cloudfunctions.developer",
        "roles/cloudfunctions.admin",
        "roles/run.invoker",
        "roles/run.servicesInvoker",
        "roles/run.developer",
        "roles/run.admin",
        "roles/editor",
        "roles/owner",
    }
)
PUBLIC_INGRESS = {"", "INGRESS_SETTINGS_UNSPECIFIED", "ALLOW_ALL"}


def get_functions(clients: GcpClients, project: str) -> Iterator[dict]:
    """Every function of ``project`` in every location, page by page."""
    call = f"functions:ListFunctions {project}"
    try:
        pager = clients.functions.list_functions(
            request=functions_v2.ListFunctionsRequest(parent=f"projects/{project}/locations/-"),
            retry=RETRY,
            timeout=TIMEOUT,
        )
        for function in pager:
            yield as_rest(function)
    except Exception as exc:
        raise failure(call, exc) from exc


def get_function_iam_policy(clients: GcpClients, name: str) -> dict:
    return get_iam_policy(clients.functions.get_iam_policy, name, "functions:GetIamPolicy")


def function_key(name: str) -> str:
    return full_name(SERVICE, name)


def transform_function(
    raw: dict, project: str, policies: list[dict], creator: str = ""
) -> DiscoveredAsset:
    """``raw`` is a Function resource; ``policies`` the IAM policies that govern invoking it
    (the function's, and for 2nd gen its Cloud Run service's); ``creator`` who created it, by
    the audit log (the API does not say)."""
    name = raw["name"]
    build = raw.get("buildConfig") or {}
    service = raw.get("serviceConfig") or {}
    ingress = service.get("ingressSettings", "")
    invokers = public_invokers(policies, INVOKER_ROLES)
    url = raw.get("url") or service.get("uri") or ""
    endpoints = []
    if url:
        endpoints.append(
            Endpoint(
                url,
                public=ingress in PUBLIC_INGRESS,
                auth=invoker_auth(invokers),
                via=f"function URL, ingress {ingress or 'ALLOW_ALL'}",
            )
        )
    secret_env = [s.get("key", "") for s in service.get("secretEnvironmentVariables") or []]
    trigger = raw.get("eventTrigger") or {}
    return DiscoveredAsset(
        key=function_key(name),
        provider=PROVIDER,
        kind="function",
        name=name_part(name, "functions"),
        account=project,
        region=name_part(name, "locations"),
        labels=dict(raw.get("labels") or {}),
        runtime=canonical_runtime(build.get("runtime", "")),
        endpoints=endpoints,
        security={
            "env_names": env_names(
                service.get("environmentVariables"), build.get("environmentVariables")
            ),
            "public_invokers": invokers,
        },
        attributes={
            "environment": raw.get("environment", ""),
            "entry_point": build.get("entryPoint", ""),
            "runtime_id": build.get("runtime", ""),
            "service_account": service.get("serviceAccountEmail", ""),
            "build_service_account": build.get("serviceAccount", ""),
            "docker_repository": build.get("dockerRepository", ""),
            "ingress": ingress,
            "vpc_connector": service.get("vpcConnector", ""),
            "run_service": service.get("service", ""),
            "revision": service.get("revision", ""),
            "available_memory": service.get("availableMemory", ""),
            "timeout_seconds": service.get("timeoutSeconds"),
            "max_instances": service.get("maxInstanceCount"),
            "secret_env_names": sorted(filter(None, secret_env)),
            "trigger": trigger.get("eventType", "http" if url else ""),
            "kms_key": raw.get("kmsKeyName", ""),
            "public_bindings": public_bindings_of(policies),
        },
        state=raw.get("state", ""),
        observed={"build": build.get("build", "")},
        creator=creator,
        created_at=parse_time(raw.get("createTime")),
        modified_at=parse_time(raw.get("updateTime")),
    )


def public_bindings_of(policies: list[dict]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for policy in policies:
        for role, members in public_bindings(policy).items():
            merged[role] = sorted({*merged.get(role, []), *members})
    return merged
