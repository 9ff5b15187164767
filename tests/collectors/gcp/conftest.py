"""A local Google API server and a service-account key that points its token URI at it."""

import json
import socket

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .fake_gcp import FakeGcp


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# The key's universe is not googleapis.com: google-auth then signs its own tokens and skips its
# background lookups on iamcredentials.googleapis.com, so the tests talk to loopback only.
UNIVERSE = "daylight.test"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any attempt to resolve a host other than loopback: no test may reach a real cloud."""
    attempts = []
    resolve = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in LOOPBACK:
            attempts.append(host)
            raise OSError(f"tests reach loopback only, not {host}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield
    assert attempts == [], f"something tried to reach {attempts}"


@pytest.fixture
def fake_gcp():
    with FakeGcp() as fake:
        yield fake


@pytest.fixture
def key_file(tmp_path, private_key_pem, fake_gcp, monkeypatch):
    """A service-account key made for the test. Application Default Credentials point at it
    too, so that no test can fall through to a metadata server."""
    path = tmp_path / "daylight-sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "acme-prod",
                "private_key_id": "test-key-1",
                "private_key": private_key_pem,
                "client_email": "daylight-reader@acme-prod.iam.gserviceaccount.com",
                "client_id": "100000000000000000001",
                "token_uri": f"{fake_gcp.url}/token",
                "universe_domain": UNIVERSE,
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("GOOGLE_CLOUD_UNIVERSE_DOMAIN", UNIVERSE)
    return str(path)
