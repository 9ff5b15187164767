"""The normalized records every collector produces and the ingest path consumes.

Plain dataclasses, no ORM: a provider module turns SDK responses into these with pure functions.
Values are as the provider reported them; ingest bounds their size before storing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address the asset answers on.

    ``public`` means reachable from the internet as configured (function URL, load balancer,
    public cluster endpoint, port bound on every interface). ``auth`` is how callers must
    authenticate: "none" for anonymous, otherwise the mechanism ("iam", "key", "oidc", …),
    or "" when unknown.
    """

    address: str
    public: bool = False
    auth: str = ""
    via: str = ""  # what makes it reachable: "function-url", "LoadBalancer", "0.0.0.0:8080", …

    def as_dict(self) -> dict[str, Any]:
        return {"address": self.address, "public": self.public, "auth": self.auth, "via": self.via}


@dataclass(slots=True)
class DiscoveredAsset:
    """One asset as a collector saw it.

    ``key`` is the provider's stable identifier (ARN, full resource name, resource ID, UID,
    host+container ID). ``runtime`` is canonical ("python3.12", "nodejs20", "java17");
    ``platform_version`` is a Kubernetes or engine version ("1.29.4").

    ``security`` keys the rules understand (absent = unknown):
      privileged: bool            run_as_root: bool          read_only_rootfs: bool
      host_namespaces: [str]      capabilities_added: [str]  sensitive_mounts: [str]
      env_names: [str]            admin_role: bool           audit_logging: bool
    ``observed`` holds volatile facts (state counters, last invocation) that never make history.
    """

    key: str
    provider: str
    kind: str
    name: str
    account: str = ""
    region: str = ""
    namespace: str = ""
    parent_key: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runtime: str = ""
    image: str = ""
    image_digest: str = ""
    platform_version: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)
    security: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    state: str = ""
    observed: dict[str, Any] = field(default_factory=dict)
    creator: str = ""
    created_at: datetime | None = None
    modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One entry of a provider's audit trail, deduplicated by ``event_id``."""

    event_id: str
    provider: str
    occurred_at: datetime
    action: str
    asset_key: str = ""
    actor: str = ""
    source_ip: str = ""
    user_agent: str = ""
    outcome: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Collector state to keep for the scope once it has been read completely."""

    values: dict[str, Any]


Record = DiscoveredAsset | AccessRecord | Cursor


@dataclass(frozen=True, slots=True)
class ScopeSpec:
    """A part of a source that can be enumerated on its own; ``params`` tell the collector how.

    ``account`` is the account, project or subscription the scope reads, when it reads one:
    it is how Daylight knows which accounts a source covers (and so which are shadow accounts).
    """

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    account: str = ""
