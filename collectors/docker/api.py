"""Thin calls to one Docker Engine API: each returns the engine's own dicts, raises on failure.

Every call is a read. Failures are raised as ``CollectorError`` naming the call, except a
container removed between listing and inspecting it, which is simply no longer there.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import docker
from docker.context import ContextAPI
from docker.errors import DockerException, NotFound
from docker.tls import TLSConfig
from docker.utils import kwargs_from_env
from requests.exceptions import RequestException

from collectors import telemetry
from collectors.base import CollectorError

DEFAULT_TIMEOUT = 30


@contextmanager
def _call(name: str):
    """Turn the SDK's and the transport's failures into a CollectorError naming ``name``."""
    try:
        yield
    except (DockerException, RequestException, OSError) as exc:
        raise CollectorError(f"docker:{name}", str(exc) or type(exc).__name__) from exc


def connect(
    host: str = "",
    *,
    tls_ca_file: str = "",
    tls_cert_file: str = "",
    tls_key_file: str = "",
    tls_verify: bool = True,
    use_ssh_client: bool = False,
    timeout: int = DEFAULT_TIMEOUT,
) -> docker.APIClient:
    """A low-level client for ``host`` (unix://, tcp://, ssh://); empty means DOCKER_HOST or the
    local socket. TLS client certificates are read from the files named, never from the
    database. The API version is negotiated, so old and new engines both answer."""
    tls = None
    if tls_cert_file or tls_ca_file:
        client_cert = (tls_cert_file, tls_key_file) if tls_cert_file else None
        tls = TLSConfig(client_cert=client_cert, ca_cert=tls_ca_file or None, verify=tls_verify)
    with _call(f"Connect {host or 'DOCKER_HOST'}"):
        if not host:
            return CountingAPIClient(version="auto", timeout=timeout, **_environment())
        return CountingAPIClient(
            base_url=host,
            version="auto",
            timeout=timeout,
            tls=tls or False,
            use_ssh_client=use_ssh_client,
        )


def _environment() -> dict:
    """Where ``docker.from_env`` would connect: DOCKER_HOST and DOCKER_TLS_VERIFY /
    DOCKER_CERT_PATH, else the Docker CLI's current context, else the local socket."""
    params = kwargs_from_env()
    if "base_url" not in params:
        params = {**ContextAPI.kwargs_from_context(), **params}
    return params


class CountingAPIClient(docker.APIClient):
    """The SDK's low-level client (a requests session) counting every request it sends for the
    scope's metrics, from the API version negotiation in its constructor onwards."""

    def send(self, request, **kwargs):
        telemetry.count_call()
        response = super().send(request, **kwargs)
        telemetry.count_status(response.status_code)
        return response


def get_info(api: docker.APIClient) -> dict:
    with _call("Info"):
        return api.info()


def get_version(api: docker.APIClient) -> dict:
    with _call("Version"):
        return api.version()


def get_container_summaries(api: docker.APIClient) -> list[dict]:
    """Every container, running or not (the engine answers in one page)."""
    with _call("ContainerList all=true"):
        return api.containers(all=True)


def get_container(api: docker.APIClient, container_id: str) -> dict | None:
    """The container's full inspection, or None when it was removed since it was listed."""
    try:
        with _call(f"ContainerInspect {container_id[:12]}"):
            return api.inspect_container(container_id)
    except CollectorError as exc:
        if isinstance(exc.__cause__, NotFound):
            return None
        raise


def get_containers(api: docker.APIClient) -> Iterator[dict]:
    for summary in get_container_summaries(api):
        inspected = get_container(api, summary["Id"])
        if inspected is not None:
            yield inspected


def get_images(api: docker.APIClient) -> list[dict]:
    with _call("ImageList"):
        return api.images(all=False)


def get_swarm_services(api: docker.APIClient) -> list[dict]:
    with _call("ServiceList"):
        return api.services()


def get_events(api: docker.APIClient, since: str, until: str) -> Iterator[dict]:
    """The engine's events from ``since`` to ``until`` (Unix seconds, "1700000000.5"); the
    stream ends at ``until``."""
    with _call(f"Events since={since}"):
        yield from api.events(since=since, until=until, decode=True)
