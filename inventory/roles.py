"""The three roles, kept as Django groups: viewer ⊂ reconciler ⊂ admin."""

from django.contrib.auth.models import Group

VIEWER, RECONCILER, ADMIN = "viewer", "reconciler", "admin"
ROLES = (VIEWER, RECONCILER, ADMIN)
_RANK = {VIEWER: 1, RECONCILER: 2, ADMIN: 3}


def role_of(user) -> str | None:
    """The highest role the user holds (superusers are admins), or None."""
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    return highest(g.name for g in user.groups.all())


def highest(roles) -> str | None:
    """The highest of these role names (unknown names are ignored), or None."""
    known = [role for role in roles if role in _RANK]
    return max(known, key=_RANK.__getitem__) if known else None


def has_role(user, role: str) -> bool:
    """True when the user holds ``role`` or a higher one."""
    held = role_of(user)
    return held is not None and _RANK[held] >= _RANK[role]


def grant_role(user, role: str | None) -> None:
    """Make ``role`` the user's only role (``None``: no role at all); admins also get the
    Django admin site. Saves the user."""
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLES)}
    user.is_staff = user.is_superuser = role == ADMIN
    user.save()
    user.groups.remove(*(group for name, group in groups.items() if name != role))
    if role:
        user.groups.add(groups[role])
