from django.utils.functional import SimpleLazyObject

from inventory import selectors
from inventory.roles import ADMIN, RECONCILER, role_of


def navigation(request):
    """The signed-in user's role for the navigation, and how fresh the data is (computed only
    when a page shows it)."""
    role = role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "can_reconcile": role in (RECONCILER, ADMIN),
        "can_administer": role == ADMIN,
        "freshness": SimpleLazyObject(selectors.freshness),
    }
