"""Exposure and hygiene rules, and the end-of-life table, as pure functions."""

from datetime import UTC, date, datetime, timedelta

import pytest

from collectors.records import Endpoint
from inventory.eol import kubernetes_support, runtime_support
from inventory.normalize import asset_row
from inventory.rules import RuleContext, evaluate, image_registry, image_tag
from tests.conftest import asset

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
CTX = RuleContext(
    NOW, ("registry.internal.example", "*.dkr.ecr.*.amazonaws.com"), timedelta(days=90)
)


def fired(**fields):
    row = asset_row(asset("arn:x", **fields))
    return {v.rule.slug: v.detail for v in evaluate(row, CTX)}


def test_unauthenticated_public_endpoint_is_critical_exposure():
    found = fired(
        endpoints=[Endpoint("https://f.lambda-url.on.aws/", True, "none", "function URL")]
    )
    assert (
        "unauthenticated-endpoint" in found and "function URL" in found["unauthenticated-endpoint"]
    )
    assert "public-endpoint" not in found


def test_authenticated_public_endpoint_is_exposure_but_not_unauthenticated():
    found = fired(endpoints=[Endpoint("https://api", True, "iam")])
    assert set(found) >= {"public-endpoint"} and "unauthenticated-endpoint" not in found


def test_private_endpoint_is_not_exposure():
    assert not {"public-endpoint", "unauthenticated-endpoint"} & set(
        fired(endpoints=[Endpoint("10.0.0.5:80", False, "none")])
    )


@pytest.mark.parametrize(
    ("image", "unpinned"),
    [
        ("nginx", True),
        ("nginx:latest", True),
        ("registry.internal.example:5000/team/app:main", True),
        ("nginx:1.25.3", False),
        ("nginx@sha256:" + "a" * 64, False),
    ],
)
def test_unpinned_images(image, unpinned):
    assert ("unpinned-image" in fired(kind="container", image=image)) is unpinned


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("nginx:1.25", "docker.io"),
        ("grafana/grafana:10", "docker.io"),
        ("ghcr.io/org/app:1", "ghcr.io"),
        ("localhost/app:1", "localhost"),
        ("registry.internal.example:5000/app:1", "registry.internal.example:5000"),
    ],
)
def test_image_registry(image, registry):
    assert image_registry(image) == registry


def test_image_tag_of_digest_reference():
    assert image_tag("repo/app@sha256:abc") == "@digest" and image_tag("repo/app") == ""


def test_trusted_registries_match_patterns():
    ecr = "111111111111.dkr.ecr.us-east-1.amazonaws.com/app:1.0"
    assert "untrusted-registry" not in fired(kind="container", image=ecr)
    assert "untrusted-registry" not in fired(
        kind="container", image="registry.internal.example/a:1"
    )
    assert "untrusted-registry" in fired(kind="container", image="ghcr.io/someone/app:1")


def test_container_hygiene():
    found = fired(
        kind="container",
        security={
            "privileged": True,
            "run_as_root": True,
            "sensitive_mounts": ["/var/run/docker.sock"],
            "host_namespaces": ["network"],
        },
    )
    assert {"privileged", "runs-as-root", "sensitive-mount", "host-namespace"} <= set(found)
    assert "docker.sock" in found["sensitive-mount"]


def test_unknown_root_status_is_not_called_safe_or_root():
    assert "runs-as-root" not in fired(kind="container", security={})
    assert "runs-as-root" not in fired(kind="container", security={"run_as_root": None})


def test_eol_and_deprecating_runtimes():
    assert "runtime-eol" in fired(runtime="python3.8")
    assert "runtime-deprecating" in fired(runtime="nodejs22")  # ends 2027-04-30
    assert not {"runtime-eol", "runtime-deprecating"} & set(fired(runtime="python3.13"))
    assert not {"runtime-eol", "runtime-deprecating"} & set(fired(runtime="cobol85"))


def test_eol_kubernetes_cluster():
    assert "platform-eol" in fired(kind="cluster", platform_version="v1.28.5-eks-5e0fdde")
    assert "platform-eol" not in fired(kind="cluster", platform_version="1.35.1")


def test_secret_looking_environment_names():
    found = fired(security={"env_names": ["LOG_LEVEL", "DB_PASSWORD", "stripe_api_key"]})
    assert (
        "DB_PASSWORD" in found["secret-env-names"] and "stripe_api_key" in found["secret-env-names"]
    )
    assert "LOG_LEVEL" not in found["secret-env-names"]
    assert "secret-env-names" not in fired(security={"env_names": ["LOG_LEVEL"]})


def test_stale_function_by_last_modification_or_invocation():
    old = NOW - timedelta(days=200)
    assert "stale-function" in fired(kind="function", modified_at=old)
    recently_invoked = {"last_invoked_at": (NOW - timedelta(days=3)).isoformat()}
    assert "stale-function" not in fired(
        kind="function", modified_at=old, observed=recently_invoked
    )
    assert "stale-function" not in fired(kind="container", modified_at=old)


def test_cluster_without_audit_logging():
    assert "no-audit-logging" in fired(kind="cluster", security={"audit_logging": False})
    assert "no-audit-logging" not in fired(kind="cluster", security={})


def test_eol_table_lookups():
    today = date(2026, 11, 22)
    assert runtime_support("nodejs18.x", today).state == "eol"
    assert runtime_support("go1.x", today).state == "eol"
    assert runtime_support("python3.12", today).state == "supported"
    assert runtime_support("unknown9", today) is None
    assert kubernetes_support("1.35", today).state == "deprecating"
    assert kubernetes_support("v1.36.2", today).state == "supported"
    assert kubernetes_support("garbage", today) is None


def test_any_google_account_counts_as_unauthenticated():
    found = fired(endpoints=[Endpoint("https://run.app", True, "google", "allAuthenticatedUsers")])
    assert "unauthenticated-endpoint" in found and "public-endpoint" not in found


def test_go_runtimes_have_dates():
    assert "runtime-eol" in fired(runtime="go1.21")
