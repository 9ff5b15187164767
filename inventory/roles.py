"""The three roles, kept as Django groups: viewer ⊂ reconciler ⊂ admin."""

VIEWER, RECONCILER, ADMIN = "viewer", "reconciler", "admin"
ROLES = (VIEWER, RECONCILER, ADMIN)
_RANK = {VIEWER: 1, RECONCILER: 2, ADMIN: 3}


def role_of(user) -> str | None:
    """The highest role the user holds (superusers are admins), or None."""
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    held = [role for role in ROLES if role in names]
    return max(held, key=_RANK.__getitem__) if held else None


def has_role(user, role: str) -> bool:
    """True when the user holds ``role`` or a higher one."""
    held = role_of(user)
    return held is not None and _RANK[held] >= _RANK[role]
