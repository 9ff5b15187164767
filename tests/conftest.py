"""Shared fixtures. The suite runs against whatever DATABASE_URL / CELERY_BROKER_URL say:
PostgreSQL + Redis in CI, the embedded SQLite default otherwise."""

import logging
from datetime import UTC, datetime

import pytest
from _pytest.logging import LogCaptureHandler
from django.contrib.auth.models import Group, User
from django.test import override_settings

from collectors.records import AccessRecord, DiscoveredAsset, Endpoint, ScopeSpec
from inventory.ingest import ScopeIngest
from inventory.models import (
    Asset,
    CollectionRun,
    OwnershipRule,
    RunTrigger,
    Scope,
    ScopeRun,
    Source,
    Team,
)
from inventory.roles import ADMIN, RECONCILER, VIEWER

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Files a test makes (rendered reports) go to its own folder, never the working tree."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing is deliberately slow; tests create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def plain_http():
    """The test client and live server speak plain HTTP, where production redirects to HTTPS
    (tests/test_settings.py checks the production settings themselves). For the whole session:
    the live server's middleware reads the setting once, when it starts."""
    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


def _configured_handlers(logger):
    """A logger's handlers, less pytest's own capture for the current test phase (pytest adds and
    removes those itself)."""
    return [h for h in logger.handlers if not isinstance(h, LogCaptureHandler)]


def _logging_state():
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [
        (logger, logger.level, logger.propagate, logger.disabled, _configured_handlers(logger))
        for logger in loggers
    ]


@pytest.fixture(autouse=True)
def logging_restored():
    """Every test ends with the logging configuration it started with. One that runs
    ``manage.py`` (django.setup(), so dictConfig(LOGGING)) would otherwise leave the root logger
    writing to the stream sys.stderr was during that test, pytest's capture, closed once the
    test ends: each later log line then printed "--- Logging error ---"."""
    saved = _logging_state()
    yield
    for logger, level, propagate, disabled, handlers in saved:
        for handler in _configured_handlers(logger):
            if handler not in handlers:
                logger.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


def make_user(username, role):
    user = User.objects.create_user(username, password="correct-horse-battery")
    if role == ADMIN:  # as `manage.py adduser --role admin` makes them
        user.is_staff = user.is_superuser = True
        user.save()
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db):
    return make_user("ciso", VIEWER)


@pytest.fixture
def reconciler(db):
    return make_user("itstaff", RECONCILER)


@pytest.fixture
def admin_user(db):
    return make_user("ops", ADMIN)


@pytest.fixture
def source(db):
    return Source.objects.create(name="test-source", provider="demo", config={"seed": 1})


@pytest.fixture
def scope_run(source):
    """A factory: a fresh ScopeRun for ``key`` of the test source, started at ``at``."""

    def make(key="acct/region", at=NOW):
        scope, _ = Scope.objects.get_or_create(source=source, key=key)
        run = CollectionRun.objects.create(source=source, trigger=RunTrigger.COMMAND, started_at=at)
        return ScopeRun.objects.create(run=run, scope=scope, started_at=at)

    return make


def asset(key, **fields):
    """A DiscoveredAsset with sensible defaults for tests."""
    fields.setdefault("provider", "aws")
    fields.setdefault("kind", "function")
    fields.setdefault("name", key.rsplit(":", 1)[-1])
    fields.setdefault("account", "111111111111")
    fields.setdefault("region", "us-east-1")
    return DiscoveredAsset(key=key, **fields)


__all__ = ["NOW", "ScopeSpec", "asset", "make_user"]


PROD_EKS = "arn:aws:eks:us-east-1:111111111111:cluster/prod-eks"
PROD_EKS_EU = "arn:aws:eks:eu-west-1:222222222222:cluster/prod-eks"
STAGING = "arn:aws:eks:us-east-1:111111111111:cluster/staging"
BUILD_HOST = "docker://build-01.corp.example"
LOOKALIKE = "docker://lookalike"
# What runs on each host, by key: its children and theirs.
RUNS_ON = {
    PROD_EKS: {
        "k8s://prod-eks/checkout",
        "k8s://prod-eks/checkout/app",
        "k8s://prod-eks/checkout/envoy",
        "k8s://prod-eks/ledger",
        "k8s://prod-eks/ledger/app",
        "k8s://prod-eks/hooks",
    },
    PROD_EKS_EU: {"k8s://prod-eks-eu/search", "k8s://prod-eks-eu/search/app"},
    STAGING: {"k8s://staging/checkout", "k8s://staging/checkout/app"},
    BUILD_HOST: {f"{BUILD_HOST}/jenkins", f"{BUILD_HOST}/registry-cache"},
    LOOKALIKE: {f"{LOOKALIKE}/miner"},
}


def _workload(key, name, cluster, account, region, containers=()):
    """A Kubernetes workload on ``cluster`` and its containers (key and name ``…/container``)."""
    fields = {"provider": "kubernetes", "account": account, "region": region}
    yield asset(key, name=name, kind="workload", parent_key=cluster, namespace="shop", **fields)
    for container in containers:
        yield asset(
            f"{key}/{container}",
            name=f"{name}/{container}",
            kind="container",
            parent_key=key,
            namespace="shop",
            image=f"registry.internal.example/{name}:1.0",
            **fields,
        )


@pytest.fixture
def hosted_estate(scope_run):
    """Assets running on clusters and Docker hosts, nested as the collectors nest them
    (cluster → workload → container, cluster → function, Docker host → container), through
    the real ingest; ``RUNS_ON`` says what runs on which host. Two clusters are named
    ``prod-eks``, in accounts 111111111111 and 222222222222; a Docker host is named like the
    first one's key; a workload, not a host, is named ``prod-eks`` too, with a container.
    Returns the stored assets by key."""
    east, west = ("111111111111", "us-east-1"), ("222222222222", "eu-west-1")
    docker = {"provider": "docker", "account": "build-01.corp.example", "region": ""}
    scopes = {
        "111111111111/us-east-1": [
            asset(PROD_EKS, name="prod-eks", kind="cluster", platform_version="1.31.2"),
            *_workload("k8s://prod-eks/checkout", "checkout", PROD_EKS, *east, ["app", "envoy"]),
            *_workload("k8s://prod-eks/ledger", "ledger", PROD_EKS, *east, ["app"]),
            asset(
                "k8s://prod-eks/hooks",
                name="hooks",
                kind="function",
                provider="kubernetes",
                parent_key=PROD_EKS,
            ),
            asset(STAGING, name="staging", kind="cluster", platform_version="1.31.2"),
            *_workload("k8s://staging/checkout", "checkout", STAGING, *east, ["app"]),
            # a Cloud Run-like service of the same name as the clusters: no host
            asset("run://prod-eks", name="prod-eks", kind="workload", provider="gcp"),
            asset(
                "run://prod-eks/app",
                name="prod-eks/app",
                kind="container",
                provider="gcp",
                parent_key="run://prod-eks",
            ),
        ],
        "222222222222/eu-west-1": [
            asset(
                PROD_EKS_EU,
                name="prod-eks",
                kind="cluster",
                account=west[0],
                region=west[1],
                platform_version="1.30.5",
            ),
            *_workload("k8s://prod-eks-eu/search", "search", PROD_EKS_EU, *west, ["app"]),
        ],
        "docker/build-01": [
            asset(BUILD_HOST, name="build-01.corp.example", kind="docker_host", **docker),
            asset(LOOKALIKE, name=PROD_EKS, kind="docker_host", **docker),
            *(
                asset(f"{host}/{name}", name=name, kind="container", parent_key=host, **docker)
                for host, name in (
                    (BUILD_HOST, "jenkins"),
                    (BUILD_HOST, "registry-cache"),
                    (LOOKALIKE, "miner"),
                )
            ),
        ],
    }
    for key, records in scopes.items():
        job = ScopeIngest(scope_run(key))
        for record in records:
            job.add(record)
        job.finish(complete=True)
    return {a.key: a for a in Asset.objects.all()}


@pytest.fixture
def scoped_estate(scope_run, settings, reconciler):
    """Team scoping on, and three live functions, each public without authentication (an open
    finding) and with an access event: ``pay`` owned by Payments (by rule), ``plat`` owned by
    Platform, ``shadow`` owned by nobody. The reconciler is a member of Payments only."""
    settings.DAYLIGHT_TEAM_SCOPING = True
    teams = {}
    for slug in ("payments", "platform"):
        teams[slug] = Team.objects.create(name=slug.title(), slug=slug)
        OwnershipRule.objects.create(name=slug, team=teams[slug], tag_key="team", tag_value=slug)
    teams["payments"].members.add(reconciler)
    job = ScopeIngest(scope_run())
    for name, labels in (("pay", {"team": "payments"}), ("plat", {"team": "platform"})):
        job.add(asset(f"arn:fn:{name}", name=name, labels=labels, endpoints=[_open_door(name)]))
    job.add(asset("arn:fn:shadow", name="shadow", endpoints=[_open_door("shadow")]))
    for name in ("pay", "plat", "shadow"):
        job.add(
            AccessRecord(
                event_id=f"evt-{name}",
                provider="aws",
                occurred_at=NOW,
                action="UpdateFunctionCode",
                asset_key=f"arn:fn:{name}",
                actor="alice",
            )
        )
    job.finish(complete=True)
    assets = {a.name: a for a in Asset.objects.all()}
    assert assets["pay"].owner == teams["payments"] and assets["shadow"].owner is None
    return {"teams": teams, **assets}


def _open_door(name):
    return Endpoint(f"https://{name}.example", public=True, auth="none", via="url")


# What a scoped reconciler must never see a trace of: every name, image and actor of Platform's
# extra assets starts with it.
PLATFORM_SECRET = "secret-ledger"


@pytest.fixture
def platform_ledger(scoped_estate, scope_run):
    """A factory, on top of ``scoped_estate``: ``n`` more of Platform's functions in a scope
    of their own, each with an end-of-life runtime, an image, an access event by alice and one
    by a Platform deployer; and a Platform cluster whose unowned workload (``orphan-app``) the
    scoped reconciler does see. Called again with a larger ``n``, the scope grows."""

    def add(n):
        job = ScopeIngest(scope_run("ledger/acct"))
        cluster = f"k8s://{PLATFORM_SECRET}"
        job.add(
            asset(
                cluster,
                name=f"{PLATFORM_SECRET}-cluster",
                provider="kubernetes",
                kind="cluster",
                labels={"team": "platform"},
                platform_version="1.19.2",
            )
        )
        job.add(
            asset(
                "k8s://uid/0f1e2d3c",
                name="orphan-app",
                provider="kubernetes",
                kind="workload",
                parent_key=cluster,
            )
        )
        for i in range(n):
            key = f"arn:fn:{PLATFORM_SECRET}-{i}"
            job.add(
                asset(
                    key,
                    name=f"{PLATFORM_SECRET}-{i}",
                    labels={"team": "platform"},
                    runtime="python3.7",
                    image=f"registry.example/{PLATFORM_SECRET}:{i}",
                    creator="alice",
                )
            )
            for actor in ("alice", f"{PLATFORM_SECRET}-deployer"):
                job.add(
                    AccessRecord(
                        event_id=f"evt-{key}-{actor}",
                        provider="aws",
                        occurred_at=NOW,
                        action="InvokeFunction",
                        asset_key=key,
                        actor=actor,
                    )
                )
        job.finish(complete=True)
        return Asset.objects.filter(name__startswith=PLATFORM_SECRET)

    return add
