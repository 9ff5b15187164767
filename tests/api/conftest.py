"""Fixtures for the REST API tests: token-authenticated clients and an estate put into the
database through the real ingest path."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from collectors.records import AccessRecord, Endpoint
from inventory.ingest import ScopeIngest
from inventory.models import Asset, OwnershipRule, Team
from tests.conftest import NOW, asset

PASSWORD = "correct-horse-battery"  # what tests.conftest.make_user gives every user

PAY_API = "arn:aws:lambda:us-east-1:111111111111:function:pay-api"
OLD_REPORT = "arn:aws:lambda:us-east-1:111111111111:function:old-report"
WEB = "//container.googleapis.com/projects/shop-prod/zones/europe-west1-b/clusters/c1/web"
BATCH = "k8s://prod/namespaces/batch/deployments/nightly"
CLUSTER = "k8s://prod"


@pytest.fixture
def api(db):
    """A factory: an API client that signs in as ``user`` with a token of ``scope`` it obtains
    from /api/v1/auth/token/, exactly as a script would; anonymous without a user."""

    def make(user=None, scope="write"):
        client = APIClient()
        if user is not None:
            response = client.post(
                "/api/v1/auth/token/",
                {"username": user.username, "password": PASSWORD, "scope": scope},
                format="json",
            )
            assert response.status_code == 201, response.content
            client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        return client

    return make


@pytest.fixture
def ingest(scope_run):
    """A factory: feed records for one scope through ScopeIngest, as a collection would, and
    return the stored assets by key."""

    def run(*records, scope="acct/region", at=NOW, complete=True):
        job = ScopeIngest(scope_run(scope, at))
        for record in records:
            job.add(record)
        job.finish(complete=complete)
        return {a.key: a for a in Asset.objects.filter(scope__key=scope)}

    return run


@pytest.fixture
def payments(db):
    """The payments team, owner by rule of everything tagged team=payments."""
    team = Team.objects.create(name="Payments", slug="payments", contact="#payments")
    OwnershipRule.objects.create(
        name="payments tag", team=team, tag_key="team", tag_value="payments"
    )
    return team


@pytest.fixture
def platform(db):
    return Team.objects.create(name="Platform", slug="platform")


@pytest.fixture
def estate(ingest, payments):
    """A small mixed estate, collected in two scopes:

    - pay-api: AWS function tagged to payments (tracked), public and unauthenticated (critical);
    - old-report: AWS function on an end-of-life runtime (high), untracked;
    - web: GCP container from the trusted registry, pinned, no findings, untracked;
    - nightly: Kubernetes workload in namespace batch, unpinned image from Docker Hub (medium),
      child of the cluster;
    - the prod cluster itself.
    Plus access events on pay-api.
    """
    aws = ingest(
        asset(
            PAY_API,
            labels={"team": "payments", "env": "prod"},
            runtime="python3.12",
            endpoints=[Endpoint("https://pay.example.com", public=True, auth="none", via="url")],
        ),
        asset(OLD_REPORT, labels={"env": "dev"}, runtime="python3.7"),
        AccessRecord(
            event_id="evt-1",
            provider="aws",
            occurred_at=NOW - timedelta(hours=2),
            action="UpdateFunctionCode",
            asset_key=PAY_API,
            actor="arn:aws:iam::111111111111:user/alice",
        ),
        AccessRecord(
            event_id="evt-2",
            provider="aws",
            occurred_at=NOW - timedelta(hours=1),
            action="AddPermission",
            asset_key=PAY_API,
            actor="arn:aws:iam::111111111111:user/mallory",
        ),
        scope="111111111111/us-east-1",
    )
    gcp = ingest(
        asset(
            WEB,
            provider="gcp",
            kind="container",
            name="web",
            account="shop-prod",
            region="europe-west1",
            namespace="web",
            image="registry.internal.example/web:1.2.3",
        ),
        scope="shop-prod",
        at=NOW + timedelta(days=1),
    )
    kube = ingest(
        asset(CLUSTER, provider="kubernetes", kind="cluster", name="prod", account="", region=""),
        asset(
            BATCH,
            provider="kubernetes",
            kind="workload",
            name="nightly",
            account="",
            region="",
            namespace="batch",
            parent_key=CLUSTER,
            image="nginx:latest",
        ),
        scope="prod",
        at=NOW + timedelta(days=2),
    )
    return {**aws, **gcp, **kube}
