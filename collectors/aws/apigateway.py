"""API Gateway routes that integrate Lambda functions: how a function is reachable over HTTP.

Read once per region before the functions, as an index from function ARN to routes, because
the link is recorded on the API's side (the integration URI), not on the function's.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from .session import Region

FUNCTION_ARN = re.compile(r"arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+")
HTTP_AUTH = {"NONE": "none", "AWS_IAM": "iam", "JWT": "jwt", "CUSTOM": "custom"}
REST_AUTH = {"NONE": "none", "AWS_IAM": "iam", "COGNITO_USER_POOLS": "cognito", "CUSTOM": "custom"}
DNS_SUFFIX = {"aws-cn": "amazonaws.com.cn"}


# --- get --------------------------------------------------------------------------------------


def get_http_apis(region: Region) -> Iterator[dict]:
    return region.pages("apigatewayv2", "get_apis", "Items")


def get_integrations(region: Region, api_id: str) -> list[dict]:
    return list(region.pages("apigatewayv2", "get_integrations", "Items", ApiId=api_id))


def get_routes(region: Region, api_id: str) -> list[dict]:
    return list(region.pages("apigatewayv2", "get_routes", "Items", ApiId=api_id))


def get_rest_apis(region: Region) -> Iterator[dict]:
    return region.pages("apigateway", "get_rest_apis", "items")


def get_resources(region: Region, api_id: str) -> list[dict]:
    return list(
        region.pages("apigateway", "get_resources", "items", restApiId=api_id, embed=["methods"])
    )


# --- transform --------------------------------------------------------------------------------


def function_arn(uri: str) -> str:
    """The unqualified function ARN an integration URI points at ("" when it is not one)."""
    match = FUNCTION_ARN.search(uri or "")
    return match.group(0) if match else ""


def transform_http_routes(api: dict, integrations: list[dict], routes: list[dict]):
    """(function ARN, route) for every route of an HTTP or WebSocket API that invokes a function."""
    targets = {
        f"integrations/{i['IntegrationId']}": function_arn(i.get("IntegrationUri", ""))
        for i in integrations
    }
    reachable = not api.get("DisableExecuteApiEndpoint", False)
    for route in routes:
        arn = targets.get(route.get("Target", ""), "")
        if not arn:
            continue
        auth = HTTP_AUTH.get(route.get("AuthorizationType", "NONE"), "custom")
        if route.get("ApiKeyRequired") and auth == "none":
            auth = "key"
        yield (
            arn,
            {
                "api": api.get("Name", ""),
                "api_id": api["ApiId"],
                "route": route.get("RouteKey", ""),
                "address": f"{api.get('ApiEndpoint', '')} {route.get('RouteKey', '')}".strip(),
                "auth": auth,
                "public": reachable,
            },
        )


def transform_rest_routes(api: dict, resources: list[dict], region: str, partition: str):
    """(function ARN, route) for every method of a REST API whose integration invokes a function.

    A PRIVATE API answers only inside VPCs, so its routes are not public.
    """
    types = api.get("endpointConfiguration", {}).get("types", [])
    public = "PRIVATE" not in types and not api.get("disableExecuteApiEndpoint", False)
    host = f"https://{api['id']}.execute-api.{region}.{DNS_SUFFIX.get(partition, 'amazonaws.com')}"
    for resource in resources:
        for method_name, method in (resource.get("resourceMethods") or {}).items():
            arn = function_arn((method.get("methodIntegration") or {}).get("uri", ""))
            if not arn:
                continue
            auth = REST_AUTH.get(method.get("authorizationType", "NONE"), "custom")
            if method.get("apiKeyRequired") and auth == "none":
                auth = "key"
            route = f"{method_name} {resource.get('path', '')}"
            yield (
                arn,
                {
                    "api": api.get("name", ""),
                    "api_id": api["id"],
                    "route": route,
                    "address": f"{host} {route}",
                    "auth": auth,
                    "public": public,
                },
            )


def index_routes(pairs: Iterable[tuple[str, dict]]) -> dict[str, list[dict]]:
    routes = defaultdict(list)
    for arn, route in pairs:
        routes[arn].append(route)
    return dict(routes)


# --- collect ----------------------------------------------------------------------------------


def routes_by_function(region: Region) -> dict[str, list[dict]]:
    """Function ARN -> the API Gateway routes (HTTP, WebSocket and REST APIs) that invoke it."""

    def pairs():
        for api in get_http_apis(region):
            api_id = api["ApiId"]
            yield from transform_http_routes(
                api, get_integrations(region, api_id), get_routes(region, api_id)
            )
        for api in get_rest_apis(region):
            yield from transform_rest_routes(
                api, get_resources(region, api["id"]), region.region, region.partition
            )

    return index_routes(pairs())
