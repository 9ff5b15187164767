from rest_framework.permissions import SAFE_METHODS, BasePermission

from inventory.roles import ADMIN, RECONCILER, VIEWER, has_role


class RolePermission(BasePermission):
    """Reading needs the viewer role; writing needs the role the view names in
    ``write_role`` (admin unless the view says reconciler)."""

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return has_role(request.user, VIEWER)
        return has_role(request.user, getattr(view, "write_role", ADMIN))


__all__ = ["ADMIN", "RECONCILER", "RolePermission"]
