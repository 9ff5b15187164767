"""Fake Kubernetes API servers behind a kubeconfig, one per cluster, stopped after each test."""

import copy
from pathlib import Path

import pytest
import yaml

from .fake_apiserver import FakeKubernetes

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "test-reader-token"


def cluster_objects() -> list[dict]:
    """The recorded cluster (fixtures/cluster.yaml), a fresh copy per call."""
    with open(FIXTURES / "cluster.yaml") as fixture:
        return copy.deepcopy(list(yaml.safe_load_all(fixture)))


def event_objects() -> list[dict]:
    """The recorded cluster's recent Events (fixtures/events.yaml), a fresh copy per call."""
    with open(FIXTURES / "events.yaml") as fixture:
        return copy.deepcopy(list(yaml.safe_load_all(fixture)))


class Clusters:
    """Starts fake clusters and writes the kubeconfig that names each as a context."""

    def __init__(self, kubeconfig: Path):
        self.kubeconfig = kubeconfig
        self.servers: dict[str, tuple[FakeKubernetes, str]] = {}

    def start(self, context: str, objects=None, git_version="v1.29.4") -> FakeKubernetes:
        fake = FakeKubernetes(TOKEN, git_version)
        fake.add(*(cluster_objects() if objects is None else objects))
        self.servers[context] = (fake, fake.start())
        self._write()
        return fake

    def _write(self) -> None:
        names = list(self.servers)
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": f"{n}-cluster", "cluster": {"server": url}}
                        for n, (_, url) in self.servers.items()
                    ],
                    "users": [{"name": "reader", "user": {"token": TOKEN}}],
                    "contexts": [
                        {"name": n, "context": {"cluster": f"{n}-cluster", "user": "reader"}}
                        for n in names
                    ],
                    "current-context": names[0],
                }
            )
        )

    def stop(self) -> None:
        for fake, _ in self.servers.values():
            fake.stop()


@pytest.fixture
def clusters(tmp_path):
    started = Clusters(tmp_path / "kubeconfig")
    yield started
    started.stop()
