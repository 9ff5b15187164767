"""Shared fixtures. The suite runs against whatever DATABASE_URL / CELERY_BROKER_URL say:
PostgreSQL + Redis in CI, the embedded SQLite default otherwise."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User

from collectors.records import DiscoveredAsset, ScopeSpec
from inventory.models import CollectionRun, RunTrigger, Scope, ScopeRun, Source
from inventory.roles import ADMIN, RECONCILER, VIEWER

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing is deliberately slow; tests create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
