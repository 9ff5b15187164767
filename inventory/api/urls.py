from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import DefaultRouter

from config.middleware import relaxed_for_api_docs

from . import views

router = DefaultRouter()
router.register("assets", views.AssetViewSet, basename="asset")
router.register("teams", views.TeamViewSet, basename="team")
router.register("rules", views.OwnershipRuleViewSet, basename="rule")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("sources", views.SourceViewSet, basename="source")
router.register("runs", views.CollectionRunViewSet, basename="run")
router.register("events", views.AccessEventViewSet, basename="event")
router.register("audit", views.AuditLogViewSet, basename="audit")
router.register("reports", views.ReportViewSet, basename="report")

urlpatterns = [
    path("v1/auth/token/", views.IssueTokenView.as_view(), name="api-token"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        relaxed_for_api_docs(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]
