from django.urls import path

from inventory.selectors import UNOWNED

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("assets/", views.assets, name="assets"),
    path("assets/export.csv", views.assets_export, name="assets-export"),
    path("assets/<int:pk>/", views.asset_detail, name="asset"),
    path("assets/views/", views.save_view, name="save-view"),
    path("assets/views/<int:pk>/delete/", views.delete_view, name="delete-view"),
    path("reconcile/", views.reconcile, name="reconcile"),
    path("reconcile/decide/", views.decide, name="decide"),
    path("sources/", views.sources, name="sources"),
    path("sources/runs/<int:pk>/", views.run_detail, name="run"),
    path("sources/<slug:name>/", views.source_detail, name="source"),
    path("sources/<slug:name>/run/", views.run_now, name="run-now"),
    path("audit/", views.audit, name="audit"),
    path("notifications/", views.notifications, name="notifications"),
    path(
        "notifications/deliveries/<int:pk>/retry/",
        views.retry_delivery,
        name="retry-delivery",
    ),
    path("access/", views.access, name="access"),
    path("versions/", views.versions, name="versions"),
    path("reports/", views.reports, name="reports"),
    path("reports/generate/", views.report_generate, name="report-generate"),
    path("reports/<int:pk>/report.<str:extension>", views.report_file, name="report-file"),
    path("teams/", views.team_list, name="teams"),
    # Before the teams' pages: no team may take this slug (inventory.models.teams).
    path(f"teams/{UNOWNED}/", views.unowned, name="unowned"),
    path("teams/<slug:slug>/", views.team_detail, name="team"),
]
