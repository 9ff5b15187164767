"""What every provider collector is: the contract between collectors and the ingest path.

Provider modules never import Django models. A collector is built from a plain ``SourceSettings``,
lists the scopes it will read, and for each scope yields records (``collectors.records``); the
runner hands them to ``inventory.ingest``. Errors stay errors: a collector never turns a failed
call into an empty result, because an empty result would mark assets gone.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import Any, ClassVar

from .records import Record, ScopeSpec

# provider name -> "module:Class"; imported on first use so one provider's SDK is never needed
# to run another's.
PROVIDERS = {
    "demo": "collectors.demo:DemoCollector",
    "gcp": "collectors.gcp.collector:GcpCollector",
    "azure": "collectors.azure.collector:AzureCollector",
    "aws": "collectors.aws:AwsCollector",
    "docker": "collectors.docker.collector:DockerCollector",
    "kubernetes": "collectors.kubernetes.collector:KubernetesCollector",
}


class UnknownProvider(LookupError):
    def __init__(self, provider):
        known = ", ".join(sorted(PROVIDERS))
        super().__init__(f"unknown provider {provider!r} (known: {known})")


class CollectorError(Exception):
    """A provider call failed. ``call`` names it, e.g. "lambda:ListFunctions us-east-1"."""

    def __init__(self, call: str, message: str):
        super().__init__(f"{call}: {message}")
        self.call = call


@dataclass(frozen=True)
class SourceSettings:
    """What a collector knows of its source. Never holds credentials."""

    name: str
    provider: str
    config: dict[str, Any] = field(default_factory=dict)
    endpoint_url: str = ""


class Collector(ABC):
    provider: ClassVar[str]
    required_config: ClassVar[tuple[str, ...]] = ()
    optional_config: ClassVar[tuple[str, ...]] = ()
    # Whether scopes may be read at the same time, each in its own thread (the runner's pool).
    # False when one scope needs what another found, so they must run one after another.
    independent_scopes: ClassVar[bool] = True

    def __init__(self, source: SourceSettings, now: datetime):
        self.source = source
        self.now = now

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        """Problems with a source's ``config``, each a sentence naming the field."""
        if not isinstance(config, dict):
            return ["config must be a mapping"]
        allowed = set(cls.required_config) | set(cls.optional_config)
        problems = [f"config.{key} is required" for key in cls.required_config if key not in config]
        problems += [
            f"config.{key} is not a {cls.provider} setting (allowed: {', '.join(sorted(allowed))})"
            for key in config
            if key not in allowed
        ]
        return problems

    @abstractmethod
    def scopes(self) -> list[ScopeSpec]:
        """The independently enumerable parts of this source."""

    @abstractmethod
    def collect(self, scope: ScopeSpec, cursor: dict) -> Iterator[Record]:
        """Yield every record of ``scope``; raise if any part of it could not be read."""


def collector_class(provider: str) -> type[Collector]:
    try:
        module_name, class_name = PROVIDERS[provider].split(":")
    except KeyError:
        raise UnknownProvider(provider) from None
    return getattr(import_module(module_name), class_name)
