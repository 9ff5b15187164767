from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.shortcuts import render

from inventory.roles import role_of

# What a signed-in person without a role may still reach: signing out.
ROLELESS_VIEWS = {"logout"}


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs a signed-in user with a role: someone single sign-on let in without
    one (in no mapped group) is told so and shown nothing. The REST API is left to DRF, which
    authenticates tokens as well as sessions and answers 401/403 instead of redirecting."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        refused = super().process_view(request, view_func, view_args, view_kwargs)
        if refused is not None or not getattr(view_func, "login_required", True):
            return refused
        request.role = role_of(request.user)  # the navigation shows it too
        if request.role is None and request.resolver_match.url_name not in ROLELESS_VIEWS:
            return render(request, "registration/no_role.html", status=403)
        return None
