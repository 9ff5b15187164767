"""``manage.py adduser``: users with exactly one role."""

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.models import AuditLog
from inventory.roles import role_of

pytestmark = pytest.mark.django_db
STRONG = "tangerine-orbit-Velvet-42"


def adduser(*args) -> str:
    out = StringIO()
    call_command("adduser", *args, stdout=out)
    return out.getvalue()


def roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


@pytest.mark.parametrize("role", ["viewer", "reconciler"])
def test_creates_a_user_with_a_role(role):
    output = adduser("alice", "--role", role, "--password", STRONG)

    user = User.objects.get(username="alice")
    assert user.check_password(STRONG)
    assert roles(user) == {role} and role_of(user) == role
    assert not user.is_staff and not user.is_superuser
    assert f"Created alice with role {role}." in output
    assert STRONG not in output


def test_admin_is_also_staff_and_superuser():
    adduser("root", "--role", "admin", "--password", STRONG)
    user = User.objects.get(username="root")
    assert roles(user) == {"admin"}
    assert user.is_staff and user.is_superuser


def test_without_a_password_one_is_generated_and_shown_once():
    output = adduser("bob", "--role", "viewer")

    [password] = re.findall(r"Password \(shown only now\): (\S+)", output)
    assert len(password) >= 20
    assert User.objects.get(username="bob").check_password(password)
    assert output.count(password) == 1
    other = adduser("carol", "--role", "viewer")
    assert password not in other


def test_an_existing_user_needs_update():
    adduser("alice", "--role", "viewer", "--password", STRONG)
    with pytest.raises(CommandError, match="exists already; pass --update"):
        adduser("alice", "--role", "admin")
    user = User.objects.get(username="alice")
    assert roles(user) == {"viewer"} and not user.is_superuser


def test_update_replaces_the_role_and_keeps_the_password():
    adduser("alice", "--role", "admin", "--password", STRONG)

    output = adduser("alice", "--role", "viewer", "--update")

    user = User.objects.get(username="alice")
    assert roles(user) == {"viewer"}
    assert not user.is_staff and not user.is_superuser
    assert user.check_password(STRONG)
    assert "Updated alice with role viewer." in output
    assert "Password" not in output
    entry = AuditLog.objects.filter(action="user.update").get()
    assert (entry.before["role"], entry.after["role"]) == (["admin"], "viewer")


def test_update_with_a_password_changes_it():
    adduser("alice", "--role", "viewer", "--password", STRONG)
    adduser("alice", "--role", "reconciler", "--update", "--password", STRONG + "!")
    user = User.objects.get(username="alice")
    assert user.check_password(STRONG + "!") and roles(user) == {"reconciler"}


def test_update_creates_a_missing_user_with_a_generated_password():
    output = adduser("dave", "--role", "viewer", "--update")
    [password] = re.findall(r"Password \(shown only now\): (\S+)", output)
    assert User.objects.get(username="dave").check_password(password)


def test_every_change_is_audited_without_the_password():
    adduser("alice", "--role", "reconciler", "--password", STRONG)
    entry = AuditLog.objects.get(action="user.create")
    assert (entry.object_repr, entry.after) == ("alice", {"role": "reconciler", "active": True})
    assert STRONG not in str(entry.before) + str(entry.after) + entry.note


def test_weak_password_is_refused_and_nothing_is_created():
    with pytest.raises(CommandError, match=r"Password rejected: .*too short"):
        adduser("alice", "--role", "viewer", "--password", "abc")
    assert not User.objects.exists()


def test_unknown_role_is_refused():
    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        adduser("alice", "--role", "owner")
    assert not User.objects.exists()


def test_invalid_username_is_refused():
    with pytest.raises(CommandError, match="Username 'a b' rejected"):
        adduser("a b", "--role", "viewer")
    assert not User.objects.exists()
