from django.conf import settings
from django.utils.functional import SimpleLazyObject

from inventory import selectors
from inventory.roles import ADMIN, RECONCILER, role_of


def navigation(request):
    """The signed-in user's role for the navigation, how fresh the data is (computed only
    when a page shows it), and the single sign-on provider's name when there is one."""
    # LoginRequiredMiddleware has looked it up already on the dashboard's pages.
    role = getattr(request, "role", None) or role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "can_reconcile": role in (RECONCILER, ADMIN),
        "can_administer": role == ADMIN,
        # as inventory.scoping.is_scoped decides, from the role already read
        "team_scoped": settings.DAYLIGHT_TEAM_SCOPING and role == RECONCILER,
        "freshness": SimpleLazyObject(selectors.freshness),
        "sso_provider": settings.OIDC_PROVIDER_NAME if settings.OIDC_ENABLED else None,
    }
