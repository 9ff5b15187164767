from inventory.roles import ADMIN, RECONCILER, role_of


def navigation(request):
    role = role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "can_reconcile": role in (RECONCILER, ADMIN),
        "can_administer": role == ADMIN,
    }
