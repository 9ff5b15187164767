"""Credentials and ARM clients for one Azure source.

The source's cloud (public, usgov, china) decides the ARM endpoint and the token scope; the
source's endpoint override replaces the endpoint (private link, a local test server) but never
the scope, which names the audience Entra ID issues tokens for.
"""

from functools import cached_property

from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest
from azure.identity import DefaultAzureCredential, EnvironmentCredential
from azure.mgmt.containerinstance import ContainerInstanceManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient

from .. import telemetry
from ..base import CollectorError
from .common import Cloud

SUBSCRIPTIONS_API = "2022-12-01"


def make_credential(cloud: Cloud, kind: str = "default"):
    """``kind`` "environment": a service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and
    AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH; "default": DefaultAzureCredential
    (environment, workload identity, managed identity, Azure CLI, …)."""
    if kind == "environment":
        return EnvironmentCredential(authority=cloud.authority)
    return DefaultAzureCredential(authority=cloud.authority)


class CountRequests(SansIOHTTPPolicy):
    """Counts every request the pipeline sends for the scope's metrics, and each 429 answer as
    throttled. A per-retry policy: it runs on each attempt the retry policy makes."""

    def on_request(self, request):
        telemetry.count_call()

    def on_response(self, request, response):
        telemetry.count_status(response.http_response.status_code)


class AzureClients:
    """The ARM clients of one subscription (or, with no subscription, of the tenant)."""

    def __init__(self, credential, cloud: Cloud, subscription: str = "", endpoint_url: str = ""):
        self.credential = credential
        self.subscription = subscription
        self.kwargs = {
            "base_url": (endpoint_url or cloud.arm_endpoint).rstrip("/"),
            "credential_scopes": [cloud.scope],
            "per_retry_policies": [CountRequests()],
        }

    def _make(self, client_class):
        return client_class(self.credential, self.subscription, **self.kwargs)

    @cached_property
    def web(self) -> WebSiteManagementClient:
        return self._make(WebSiteManagementClient)

    @cached_property
    def aks(self) -> ContainerServiceClient:
        return self._make(ContainerServiceClient)

    @cached_property
    def aci(self) -> ContainerInstanceManagementClient:
        return self._make(ContainerInstanceManagementClient)

    @cached_property
    def monitor(self) -> MonitorManagementClient:
        return self._make(MonitorManagementClient)

    @cached_property
    def resources(self) -> ResourceManagementClient:
        # Its pipeline (token, retries on 429 with Retry-After) also serves the subscription
        # list, which this version of azure-mgmt-resource no longer wraps.
        return ResourceManagementClient(self.credential, self.subscription or "-", **self.kwargs)

    def get_json(self, url: str) -> dict:
        """GET an ARM URL (relative to the endpoint, or a nextLink) through the client pipeline."""
        response = self.resources.send_request(HttpRequest("GET", url))
        response.raise_for_status()
        return response.json()


def unless_denied(call: str, read):
    """``read()``, or None when ARM refuses it (403): what it would tell stays unknown, and the
    rest of the subscription is still read. Any other error fails the scope, naming ``call``."""
    try:
        return read()
    except HttpResponseError as exc:
        if exc.status_code == 403:
            return None
        raise failure(call, exc) from exc
    except Exception as exc:
        raise failure(call, exc) from exc


def failure(call: str, exc: Exception) -> CollectorError:
    """A CollectorError naming ``call`` with ARM's status and error code (never a token)."""
    if isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        code = getattr(error, "code", "") or getattr(exc, "reason", "") or ""
        message = getattr(error, "message", "") or exc.message or ""
        return CollectorError(call, f"{exc.status_code} {code}: {message}"[:500])
    return CollectorError(call, f"{type(exc).__name__}: {exc}"[:500])
