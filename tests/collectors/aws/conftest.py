"""The AWS test session: moto in server mode on loopback, a local CloudTrail, dummy credentials.

Nothing here reaches AWS: every client is pointed at 127.0.0.1, and the credentials are the
literal string "testing".
"""

import logging
import urllib.request

import pytest
from moto.server import ThreadedMotoServer

from .fakes import AccessGate, FakeCloudTrail

DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Variables that would point boto3 at a real account or endpoint, cleared for every test.
CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN")


@pytest.fixture(scope="session")
def moto_url():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def cloudtrail_server():
    server = FakeCloudTrail().start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_url, cloudtrail_server, monkeypatch, tmp_path):
    """A clean moto and CloudTrail, dummy credentials, and no shared AWS config files."""
    for name, value in DUMMY_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    reset = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    cloudtrail_server.reset()
    return moto_url


@pytest.fixture
def gate(moto_url):
    server = AccessGate(moto_url).start()
    yield server
    server.stop()
