from rest_framework.permissions import SAFE_METHODS, BasePermission

from inventory.models import ApiToken, TokenScope
from inventory.roles import ADMIN, RECONCILER, VIEWER, has_role


class RolePermission(BasePermission):
    """Reading needs the viewer role; writing needs the role the view names in
    ``write_role`` (admin unless the view says reconciler) and, with a token, a write scope."""

    message = "Your role, or this token's scope, does not allow this."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return has_role(request.user, VIEWER)
        if isinstance(request.auth, ApiToken) and request.auth.scope != TokenScope.WRITE:
            return False
        return has_role(request.user, getattr(view, "write_role", ADMIN))


__all__ = ["ADMIN", "RECONCILER", "RolePermission"]
