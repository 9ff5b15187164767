from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from dashboard.forms import SignInForm
from inventory import sso

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.prometheus_metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        login_not_required(auth_views.LoginView.as_view(authentication_form=SignInForm)),
        name="login",
    ),
    path("accounts/logout/", sso.SignOutView.as_view(), name="logout"),
    # Single sign-on: both answer 404 unless it is configured.
    path(
        "accounts/oidc/authenticate/",
        login_not_required(sso.SignInView.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "accounts/oidc/callback/",
        login_not_required(sso.CallbackView.as_view()),
        name="oidc_authentication_callback",
    ),
    path("api/v1/kubernetes/", include("inventory.api.kubernetes_audit")),
    path("api/", include("inventory.api.urls")),
    path("", include("dashboard.urls")),
]
