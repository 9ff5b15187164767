"""The Docker collector: one source is one Docker Engine API endpoint (one scope).

Config (every key optional):
  host             unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host
                   (default: the source's endpoint_url, else DOCKER_HOST, else the local socket)
  tls_ca_file, tls_cert_file, tls_key_file, tls_verify
                   TLS client certificates for tcp://, as file paths on the collecting machine
  use_ssh_client   use the system's ssh client for ssh:// (its config and agent)
  timeout          seconds per API call (default 30)
  events_lookback_hours
                   how far back the first collection reads engine events (default 24)
"""

from collections.abc import Iterator
from datetime import timedelta

from collectors.base import Collector
from collectors.records import Cursor, ScopeSpec

from . import api
from .transform import (
    Engine,
    repo_digest_index,
    tag_index,
    transform_container,
    transform_event,
    transform_host,
    transform_image,
    transform_swarm_service,
)

DEFAULT_LOOKBACK_HOURS = 24
# Seconds read again at the start of each events window: the engine's bounds are whole seconds,
# and an event counted twice is deduplicated by its ID.
EVENTS_OVERLAP = 1


class DockerCollector(Collector):
    provider = "docker"
    optional_config = (
        "host",
        "tls_ca_file",
        "tls_cert_file",
        "tls_key_file",
        "tls_verify",
        "use_ssh_client",
        "timeout",
        "events_lookback_hours",
    )

    @property
    def host(self) -> str:
        return self.source.config.get("host") or self.source.endpoint_url or ""

    def scopes(self) -> list[ScopeSpec]:
        # One engine per source. The key does not name the URL: reaching the same engine by
        # another address must not leave its assets behind in an orphaned scope.
        return [ScopeSpec("engine")]

    def _connect(self):
        config = self.source.config
        return api.connect(
            self.host,
            tls_ca_file=config.get("tls_ca_file", ""),
            tls_cert_file=config.get("tls_cert_file", ""),
            tls_key_file=config.get("tls_key_file", ""),
            tls_verify=config.get("tls_verify", True),
            use_ssh_client=config.get("use_ssh_client", False),
            timeout=config.get("timeout", api.DEFAULT_TIMEOUT),
        )

    def collect(self, scope: ScopeSpec, cursor: dict) -> Iterator:
        client = self._connect()
        try:
            yield from self._collect(client, cursor)
        finally:
            client.close()

    def _collect(self, client, cursor: dict) -> Iterator:
        info = api.get_info(client)
        tls = bool(self.source.config.get("tls_cert_file") or self.source.config.get("tls_ca_file"))
        yield transform_host(info, api.get_version(client), self.host, tls)
        engine = Engine.of(info, self.host)

        images = api.get_images(client)
        yield from (transform_image(image, engine) for image in images)
        digests = repo_digest_index(images)
        for inspected in api.get_containers(client):
            yield transform_container(inspected, engine, digests)

        swarm = info.get("Swarm") or {}
        if swarm.get("ControlAvailable"):
            cluster_id = (swarm.get("Cluster") or {}).get("ID") or engine.id
            for service in api.get_swarm_services(client):
                yield transform_swarm_service(service, cluster_id, engine)

        yield from self._events(client, engine, tag_index(images), cursor)

    def _events(self, client, engine: Engine, tags: dict[str, str], cursor: dict) -> Iterator:
        """Engine events since the last complete collection, up to this run's start."""
        until = self.now.timestamp()
        lookback = timedelta(
            hours=self.source.config.get("events_lookback_hours", DEFAULT_LOOKBACK_HOURS)
        )
        since = cursor.get("events_until") or (self.now - lookback).timestamp()
        window = (_engine_time(max(since - EVENTS_OVERLAP, 0)), _engine_time(until))
        for event in api.get_events(client, *window):
            record = transform_event(event, engine, tags)
            if record is not None:
                yield record
        yield Cursor({"events_until": until})


def _engine_time(seconds: float) -> str:
    """Unix time as the engine reads it, to the nanosecond ("1700000000.123456000")."""
    return f"{seconds:.9f}"
