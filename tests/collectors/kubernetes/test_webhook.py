"""The audit webhook Daylight serves: token from the environment, events stored once."""

import json

import pytest

from collectors.runner import run_source
from inventory.models import AccessEvent, Source

from .conftest import FIXTURES
from .test_collect import CHECKOUT, make_source

pytestmark = pytest.mark.django_db
URL = "/api/v1/kubernetes/audit/prod/"
TOKEN_ENV = "DAYLIGHT_TEST_AUDIT_TOKEN"


def batch(*lines):
    events = [json.loads(line) for line in lines]
    return json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": events})


def audit_lines():
    return [line for line in (FIXTURES / "audit.log").read_text().splitlines() if "{" in line]


@pytest.fixture
def webhook_source(clusters, monkeypatch):
    clusters.start("prod")
    monkeypatch.setenv(TOKEN_ENV, "s3cret-webhook-token")
    source = make_source(clusters, audit_webhook_token_env=TOKEN_ENV)
    run_source(source)
    return source


def post(client, body, token="s3cret-webhook-token", url=URL):
    return client.post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_a_batch_is_stored_once_and_tied_to_workloads(client, webhook_source):
    body = batch(*audit_lines())

    first, again = post(client, body), post(client, body)

    assert first.status_code == 200 and first.json() == {"received": 9, "stored": 5, "refused": []}
    assert again.json() == {"received": 9, "stored": 0, "refused": []}
    patch = AccessEvent.objects.get(event_id="a1f3c2e0-0001-4000-8000-000000000001")
    assert patch.asset.key == CHECKOUT and patch.source == webhook_source
    # A pod no longer listed is tied to its Deployment by the way controllers name pods.
    denied = AccessEvent.objects.get(event_id="a1f3c2e0-0005-4000-8000-000000000005")
    assert denied.asset.key == CHECKOUT and denied.outcome == "denied"


@pytest.mark.parametrize(
    ("url", "token"),
    [
        (URL, "wrong-token"),
        (URL, ""),
        ("/api/v1/kubernetes/audit/no-such-source/", "s3cret-webhook-token"),
    ],
)
def test_without_the_right_token_nothing_is_stored(client, webhook_source, url, token):
    response = post(client, batch(*audit_lines()), token=token, url=url)

    assert response.status_code == 401
    assert not AccessEvent.objects.exists()


def test_a_source_without_a_webhook_token_refuses_everything(client, clusters, monkeypatch):
    clusters.start("prod")
    monkeypatch.setenv(TOKEN_ENV, "")
    make_source(clusters, audit_webhook_token_env=TOKEN_ENV)

    assert post(client, batch(*audit_lines()), token="").status_code == 401
    Source.objects.filter(name="prod").update(config={})
    assert post(client, batch(*audit_lines())).status_code == 401


def test_not_json_is_a_bad_request(client, webhook_source):
    assert post(client, "{not json").status_code == 400
    assert client.get(URL).status_code == 405
