"""Credentials and API clients for one Google Cloud source.

Credentials come from Application Default Credentials, or from a service-account key file whose
path the source names (``credentials_file``); Daylight never stores the key. The source's
endpoint override goes to every client through ``client_options.api_endpoint``, the client
libraries' own mechanism (private service connect, restricted VIPs, local test servers).
"""

from functools import cached_property

import google.auth
from google.api_core import exceptions, retry
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession
from google.cloud import container_v1, functions_v2, resourcemanager_v3, run_v2
from google.oauth2 import service_account
from google.protobuf import json_format

from .. import telemetry
from ..base import CollectorError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# Throttling and transient server faults are retried with exponential backoff, as Google's API
# guidance asks; an auth failure or a missing API is not retried and fails the scope.
TRANSIENT = retry.if_exception_type(
    exceptions.TooManyRequests,
    exceptions.ServiceUnavailable,
    exceptions.InternalServerError,
    exceptions.GatewayTimeout,
)
RETRY = retry.Retry(predicate=TRANSIENT, initial=1.0, maximum=30.0, multiplier=2.0, timeout=300.0)
TIMEOUT = 60.0


def load_credentials(credentials_file: str = ""):
    """The source's Google credentials: the named key file, else Application Default
    Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata server)."""
    try:
        if credentials_file:
            return service_account.Credentials.from_service_account_file(
                credentials_file, scopes=SCOPES
            )
        credentials, _ = google.auth.default(scopes=SCOPES)
    except (OSError, ValueError, auth_exceptions.GoogleAuthError) as exc:
        # The message names the file or the missing default; it never carries key material.
        raise CollectorError("gcp:LoadCredentials", type(exc).__name__) from exc
    return credentials


class GcpClients:
    """The client of each Google API a collection uses, made once per run."""

    def __init__(self, credentials, endpoint_url: str = ""):
        self.credentials = credentials
        self.endpoint_url = endpoint_url.rstrip("/")

    def _kwargs(self) -> dict:
        options = ClientOptions(api_endpoint=self.endpoint_url) if self.endpoint_url else None
        return {"credentials": self.credentials, "transport": "rest", "client_options": options}

    def _make(self, client_class):
        """A generated client on its REST transport, whose requests session counts every
        answer for the scope's metrics (the transport keeps the session it made as
        ``_session``; the generated REST transports all do)."""
        made = client_class(**self._kwargs())
        counted(made.transport._session)
        return made

    @cached_property
    def functions(self) -> functions_v2.FunctionServiceClient:
        return self._make(functions_v2.FunctionServiceClient)

    @cached_property
    def run(self) -> run_v2.ServicesClient:
        return self._make(run_v2.ServicesClient)

    @cached_property
    def gke(self) -> container_v1.ClusterManagerClient:
        return self._make(container_v1.ClusterManagerClient)

    @cached_property
    def projects(self) -> resourcemanager_v3.ProjectsClient:
        return self._make(resourcemanager_v3.ProjectsClient)

    @cached_property
    def folders(self) -> resourcemanager_v3.FoldersClient:
        return self._make(resourcemanager_v3.FoldersClient)

    @cached_property
    def session(self) -> AuthorizedSession:
        """For the calls no generated REST client covers: Cloud Run's location list, and Logging
        (whose generated client speaks gRPC only, and whose JSON client cannot retry a page)."""
        return counted(AuthorizedSession(self.credentials))

    def endpoint(self, default: str) -> str:
        return self.endpoint_url or default

    def get_json(self, url: str, params: dict) -> dict:
        """GET ``url`` with retries on throttling; raises the API's error otherwise."""
        return RETRY(self._send)("GET", url, params=params)

    def post_json(self, url: str, body: dict) -> dict:
        return RETRY(self._send)("POST", url, json=body)

    def _send(self, method: str, url: str, **kwargs) -> dict:
        response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        if response.status_code >= 400:
            raise exceptions.from_http_response(response)
        return response.json()


def counted(session: AuthorizedSession) -> AuthorizedSession:
    """``session`` with a response hook counting each answer (and each 429) for the scope's
    metrics; retries by api_core's Retry are requests of their own, so each counts."""
    session.hooks["response"].append(telemetry.count_response)
    return session


def get_iam_policy(method, resource: str, call: str) -> dict:
    """The IAM policy of ``resource`` as REST JSON, read with a client's ``get_iam_policy``."""
    try:
        policy = method(request={"resource": resource}, retry=RETRY, timeout=TIMEOUT)
    except Exception as exc:
        raise failure(f"{call} {resource}", exc) from exc
    return json_format.MessageToDict(policy)


def failure(call: str, exc: Exception) -> CollectorError:
    """A CollectorError naming ``call`` with the API's status and message (never credentials)."""
    if isinstance(exc, exceptions.GoogleAPICallError):
        return CollectorError(call, f"{exc.code} {exc.message}"[:500])
    return CollectorError(call, f"{type(exc).__name__}: {exc}"[:500])
