"""A local ARM server over TLS, trusted through REQUESTS_CA_BUNDLE, and a credential that hands
out a fixed token (signing in to Entra ID is the one part no local server can stand in for)."""

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo

from collectors.azure.collector import AzureCollector
from tests.collectors.gcp.conftest import loopback_only  # noqa: F401  (autouse: loopback only)

from .fake_arm import FakeArm, write_certificate


class FixedTokenCredential:
    """A TokenCredential that records the scopes it was asked for."""

    def __init__(self):
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        return AccessToken("fixed-test-token", 4102444800)

    def get_token_info(self, *scopes, options=None):
        self.scopes.append(scopes)
        return AccessTokenInfo("fixed-test-token", 4102444800)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    return write_certificate(tmp_path_factory.mktemp("arm-tls"))


@pytest.fixture
def fake_arm(certificate, monkeypatch):
    cert_path, key_path = certificate
    # The clients verify TLS as in production; the test's certificate is the one trusted root.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    with FakeArm(cert_path, key_path) as fake:
        yield fake


@pytest.fixture
def credential(monkeypatch):
    fixed = FixedTokenCredential()
    monkeypatch.setattr(AzureCollector, "credential", lambda self: fixed)
    return fixed
