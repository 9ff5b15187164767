"""Lambda functions: runtime and its deprecation, package, role, environment variable names,
VPC, tags, published versions and the aliases that make them live, function URL, resource
policy and the API Gateway routes that invoke it.

Environment variable *values* are never kept: ``list_functions`` returns them, and only the
names leave ``transform_function``.
"""

import json
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path

from ..records import DiscoveredAsset, Endpoint
from . import apigateway
from .common import ScopeContext, iso, labels_from_tags, ordered_map, parse_time
from .session import Region

ABSENT = ("ResourceNotFoundException",)
LATEST = "$LATEST"
MAX_VERSIONS = 20  # the newest published versions kept per function (some publish thousands)
INVOKE_ACTIONS = {"lambda:invokefunction", "lambda:invokefunctionurl", "lambda:*", "*"}
TAGGED_TYPE = "lambda:function"
TAG_PAGE_SIZE = 100  # the most GetResources returns per call


@cache
def runtime_deprecations() -> dict[str, date]:
    """AWS runtime identifier -> the day AWS deprecates it (data/lambda_runtimes.json)."""
    data = json.loads((Path(__file__).parent / "data" / "lambda_runtimes.json").read_text())
    return {runtime: date.fromisoformat(day) for runtime, day in data["runtimes"].items()}


def canonical_runtime(runtime: str) -> str:
    """ "python3.12" stays, "nodejs18.x" -> "nodejs18", "go1.x" stays (it names Go 1 itself)."""
    runtime = (runtime or "").strip().lower()
    return runtime if runtime == "go1.x" else runtime.removesuffix(".x")


# --- get --------------------------------------------------------------------------------------


def get_functions(region: Region) -> Iterator[dict]:
    return region.pages("lambda", "list_functions", "Functions")


def get_tag_mappings(region: Region) -> Iterator[dict]:
    """Every tagged function's tags, from the Resource Groups Tagging API: one paged read for
    the region instead of a ListTags call per function (list_functions does not say them).
    A function never tagged is not listed."""
    return region.pages(
        "resourcegroupstaggingapi",
        "get_resources",
        "ResourceTagMappingList",
        page_size=TAG_PAGE_SIZE,
        ResourceTypeFilters=[TAGGED_TYPE],
    )


def get_url_config(region: Region, name: str) -> dict | None:
    """The function URL's configuration; None when the function has no URL."""
    return region.call("lambda", "get_function_url_config", absent=ABSENT, FunctionName=name)


def get_policy(region: Region, name: str) -> dict | None:
    """The resource-based policy response; None when the function has none."""
    return region.call("lambda", "get_policy", absent=ABSENT, FunctionName=name)


def get_aliases(region: Region, name: str) -> list[dict]:
    return list(region.pages("lambda", "list_aliases", "Aliases", FunctionName=name))


def get_versions(region: Region, name: str) -> list[dict]:
    """Every version of the function, ``$LATEST`` included, oldest first."""
    return list(region.pages("lambda", "list_versions_by_function", "Versions", FunctionName=name))


def get_code(region: Region, name: str) -> dict:
    """``Code`` of get_function: for image functions, the image URI and its resolved digest."""
    return region.call("lambda", "get_function", FunctionName=name).get("Code", {})


def get_details(region: Region, function: dict) -> dict:
    """Everything about one function that list_functions does not say. Calls name the function
    (unique in its account and region) rather than its ARN, which some endpoints mis-encode."""
    name = function["FunctionName"]
    details = {
        "url": get_url_config(region, name),
        "policy": get_policy(region, name),
        "aliases": get_aliases(region, name),
        "versions": get_versions(region, name),
    }
    if function.get("PackageType") == "Image":
        details["code"] = get_code(region, name)
    return details


# --- transform --------------------------------------------------------------------------------


def tags_by_function(mappings) -> dict[str, list[dict]]:
    """Function ARN -> its tags, from GetResources' ``ResourceTagMappingList`` items."""
    return {m["ResourceARN"]: m.get("Tags") or [] for m in mappings if m.get("ResourceARN")}


def _principals(principal) -> list[str]:
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, dict):
        found = []
        for value in principal.values():
            found += [value] if isinstance(value, str) else list(value or [])
        return found
    return []


def _lowered(value) -> set[str]:
    values = [value] if isinstance(value, str) else list(value or [])
    return {str(v).lower() for v in values}


def transform_policy(policy_text: str | None) -> dict:
    """Who may invoke the function by its resource policy.

    A statement that allows invocation to principal "*" without any condition lets every AWS
    account call the function: public invoke.
    """
    if not policy_text:
        return {"public_invoke": False, "invokers": []}
    try:
        document = json.loads(policy_text)
    except ValueError:
        return {"public_invoke": False, "invokers": [], "policy_unreadable": True}
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    public, invokers = False, []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not _lowered(statement.get("Action")) & INVOKE_ACTIONS:
            continue
        principals = _principals(statement.get("Principal"))
        conditioned = bool(statement.get("Condition"))
        invokers.append({"principals": principals, "conditioned": conditioned})
        if "*" in principals and not conditioned:
            public = True
    return {"public_invoke": public, "invokers": invokers}


def _version_number(version: dict) -> int:
    number = str(version.get("Version", ""))
    return int(number) if number.isdigit() else -1


def _version_facts(version: dict, today: date | None) -> dict:
    raw_runtime = version.get("Runtime", "")
    facts = {
        "version": str(version.get("Version", "")),
        "runtime": canonical_runtime(raw_runtime),
        "code_sha256": version.get("CodeSha256", ""),
        "last_modified": iso(version.get("LastModified")),
    }
    deprecated_on = runtime_deprecations().get(raw_runtime)
    if deprecated_on and today is not None:
        facts["runtime_deprecated"] = deprecated_on <= today
    return facts


def transform_versions(versions: list[dict], aliases: list[dict], today: date | None) -> dict:
    """Published versions, and what is live: each alias with the version(s) it sends traffic to
    (weighted routing splits it), and whether that version's runtime is deprecated. An alias can
    keep an old runtime live long after ``$LATEST`` moved on."""
    published = sorted(
        (v for v in versions if _version_number(v) >= 0), key=_version_number, reverse=True
    )
    by_number = {str(v.get("Version")): v for v in versions}
    live = []
    for alias in sorted(aliases, key=lambda a: a.get("Name", "")):
        extra = ((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
        primary_weight = round(1.0 - sum(extra.values()), 4)
        targets = [(str(alias.get("FunctionVersion", "")), primary_weight)]
        targets += [(str(number), weight) for number, weight in sorted(extra.items())]
        for number, weight in targets:
            facts = _version_facts(by_number.get(number) or {"Version": number}, today)
            live.append({"alias": alias.get("Name", ""), "weight": weight, **facts})
    return {
        "published_versions": len(published),
        "versions": [_version_facts(v, today) for v in published[:MAX_VERSIONS]],
        "live_versions": live,
    }


def _image_digest(resolved_uri: str) -> str:
    return resolved_uri.rsplit("@", 1)[1] if "@" in resolved_uri else ""


def function_endpoints(arn: str, url: dict | None, public_invoke: bool, routes: list[dict]):
    endpoints = []
    if url:
        auth = "none" if url.get("AuthType") == "NONE" else "iam"
        endpoints.append(Endpoint(url.get("FunctionUrl", ""), True, auth, "function-url"))
    if public_invoke:
        endpoints.append(
            Endpoint(arn, True, "none", "resource policy allows Principal * (any AWS account)")
        )
    for route in routes:
        via = f"api-gateway {route['api']} {route['route']}".strip()
        endpoints.append(Endpoint(route["address"], route["public"], route["auth"], via))
    return endpoints


def transform_function(
    function: dict,
    details: dict,
    *,
    account: str,
    region: str,
    routes: list[dict] = (),
    role: dict | None = None,
    creator: str = "",
    today: date | None = None,
) -> DiscoveredAsset:
    """One function as Daylight records it. ``function`` is an item of list_functions,
    ``details`` what ``get_details`` read and its ``tags``, ``role`` the facts of its execution
    role."""
    arn = function["FunctionArn"]
    raw_runtime = function.get("Runtime", "")
    deprecated_on = runtime_deprecations().get(raw_runtime)
    access = transform_policy((details.get("policy") or {}).get("Policy"))
    env_names = sorted((function.get("Environment") or {}).get("Variables", {}) or {})
    vpc = function.get("VpcConfig") or {}
    code = details.get("code") or {}
    attributes = {
        "package_type": function.get("PackageType", "Zip"),
        "architectures": function.get("Architectures", ["x86_64"]),
        "handler": function.get("Handler", ""),
        "memory_mb": function.get("MemorySize"),
        "timeout_s": function.get("Timeout"),
        "code_sha256": function.get("CodeSha256", ""),
        "version": function.get("Version", "$LATEST"),
        "aliases": {a["Name"]: a.get("FunctionVersion", "") for a in details.get("aliases", [])},
        **transform_versions(details.get("versions", []), details.get("aliases", []), today),
        "layers": [layer.get("Arn", "") for layer in function.get("Layers", [])],
        "vpc": bool(vpc.get("VpcId")),
        "vpc_id": vpc.get("VpcId", ""),
        "invokers": access["invokers"],
        "api_routes": [f"{r['api']} {r['route']}" for r in routes],
        "description": function.get("Description", ""),
    }
    if deprecated_on:
        attributes["runtime_deprecated_on"] = deprecated_on.isoformat()
        if today is not None:
            attributes["runtime_deprecated"] = deprecated_on <= today
    if details.get("url"):
        attributes["function_url_auth"] = details["url"].get("AuthType", "")
        attributes["function_url_cors"] = bool(details["url"].get("Cors"))
    security = {
        "env_names": env_names,
        "public_invoke": access["public_invoke"],
        **(role or {"role": function.get("Role", "")}),
    }
    return DiscoveredAsset(
        key=arn,
        provider="aws",
        kind="function",
        name=function.get("FunctionName", ""),
        account=account,
        region=region,
        labels=labels_from_tags(details.get("tags")),
        runtime=canonical_runtime(raw_runtime),
        image=code.get("ImageUri", ""),
        image_digest=_image_digest(code.get("ResolvedImageUri", "")),
        endpoints=function_endpoints(arn, details.get("url"), access["public_invoke"], routes),
        security=security,
        attributes=attributes,
        state=function.get("State", "") or "",
        observed={
            "code_size": function.get("CodeSize"),
            "last_update_status": function.get("LastUpdateStatus", ""),
        },
        creator=creator,
        modified_at=parse_time(function.get("LastModified")),
    )


# --- collect ----------------------------------------------------------------------------------


def collect(region: Region, context: ScopeContext) -> Iterator[DiscoveredAsset]:
    """Every function of the region; detail calls run ``context.workers`` at a time."""
    routes = apigateway.routes_by_function(region)
    tags = tags_by_function(get_tag_mappings(region))

    def read(function):
        details = get_details(region, function)
        role = context.roles.facts(region, function.get("Role", ""))
        return details, role

    for function, (details, role) in ordered_map(read, get_functions(region), context.workers):
        arn = function["FunctionArn"]
        yield transform_function(
            function,
            {**details, "tags": tags.get(arn, [])},
            account=region.account,
            region=region.region,
            routes=routes.get(arn, []),
            role=role,
            creator=context.creators.get(arn, ""),
            today=context.today,
        )
