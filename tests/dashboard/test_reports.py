"""The Reports page: everyone with a role reads and downloads reports, admins ask for them
(audited), and a reconciler scoped to teams sees their own teams' only."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from inventory.models import AuditLog, Report, Team
from tests.inventory.receivers import tasks_in_process

pytestmark = pytest.mark.django_db
__all__ = ["tasks_in_process"]  # a fixture: reports are made here, even with a broker
REPORTS = reverse("dashboard:reports")
GENERATE = reverse("dashboard:report-generate")


def stored_report(team=None, **fields):
    """A ready report with small files of its own (the real rendering is tested in
    tests/inventory/test_reports.py)."""
    now = timezone.now()
    report = Report.objects.create(
        scope=Report.Scope.TEAM if team else Report.Scope.ORGANISATION,
        team=team,
        scope_name=team.name if team else "Organisation",
        scope_slug=team.slug if team else "",
        period_start=now - timedelta(days=91),
        period_end=now,
        status=Report.Status.READY,
        figures={"summary": {"owned_percent": 80, "untracked": 7, "exposed": 3}},
        **fields,
    )
    for extension, body in (("html", b"<p>page</p>"), ("pdf", b"%PDF-1.7 x"), ("csv", b"a,b\n")):
        getattr(report, extension).save(report.filename(extension), ContentFile(body))
    return report


def file_url(report, extension):
    return reverse("dashboard:report-file", args=[report.pk, extension])


def test_a_viewer_reads_the_list_and_downloads_every_format(client, viewer, settings):
    settings.DAYLIGHT_REPORT_SCHEDULE = "0 6 1 1,4,7,10 *"
    report = stored_report()
    client.force_login(viewer)
    page = client.get(REPORTS).content.decode()
    assert f'data-report="{report.pk}"' in page and "80%" in page
    assert 'data-testid="report-form"' not in page  # asking is for admins
    assert 'href="/reports/"' in page  # in the navigation
    quarterly = "Quarterly, on the 1st of Jan/Apr/Jul/Oct at 06:00 UTC"
    assert f'Made on schedule: <span title="cron: 0 6 1 1,4,7,10 *">{quarterly}</span>' in page
    pdf = client.get(file_url(report, "pdf"))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith("attachment")
    assert report.filename("pdf") in pdf["Content-Disposition"]
    assert b"".join(pdf.streaming_content) == b"%PDF-1.7 x"
    assert client.get(file_url(report, "csv"))["Content-Type"].startswith("text/csv")
    html = client.get(file_url(report, "html"))
    assert html["Content-Type"].startswith("text/html")
    assert html["Content-Disposition"].startswith("inline")
    assert client.get(file_url(report, "exe")).status_code == 404


def test_a_viewer_cannot_ask_for_a_report(client, viewer):
    client.force_login(viewer)
    assert client.post(GENERATE, {"team": ""}).status_code == 403
    assert not Report.objects.exists() and not AuditLog.objects.exists()


def test_a_pending_or_failed_report_has_nothing_to_download(client, viewer):
    pending = Report.objects.create(
        scope_name="Organisation", period_start=timezone.now(), period_end=timezone.now()
    )
    client.force_login(viewer)
    assert client.get(file_url(pending, "pdf")).status_code == 404
    assert "Being made" in client.get(REPORTS).content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_admin_makes_a_report_that_is_audited_and_listed(
    client, admin_user, payments, tasks_in_process
):
    client.force_login(admin_user)
    response = client.post(GENERATE, {"team": "payments"}, follow=True)
    report = Report.objects.get()
    assert (report.scope_name, report.status, report.requested_by) == (
        "Payments",
        Report.Status.READY,
        admin_user,
    )
    page = response.content.decode()
    assert "Made the Payments report" in page and file_url(report, "pdf") in page
    entry = AuditLog.objects.get(action="report.generate")
    assert entry.actor == admin_user and entry.object_id == str(report.pk)
    assert b"".join(client.get(file_url(report, "pdf")).streaming_content).startswith(b"%PDF-")


def test_an_unknown_team_is_refused(client, admin_user):
    client.force_login(admin_user)
    assert client.post(GENERATE, {"team": "nobody"}).status_code == 404
    assert not Report.objects.exists()


def test_a_scoped_reconciler_sees_their_teams_reports_only(client, scoped_estate):
    organisation = stored_report()
    mine = stored_report(scoped_estate["teams"]["payments"])
    theirs = stored_report(scoped_estate["teams"]["platform"])
    client.force_login(User.objects.get(username="itstaff"))
    page = client.get(REPORTS).content.decode()
    assert f'data-report="{mine.pk}"' in page
    for hidden in (organisation, theirs):
        assert f'data-report="{hidden.pk}"' not in page
    assert client.get(file_url(organisation, "html")).status_code == 404
    assert client.get(file_url(mine, "pdf")).status_code == 200
    assert client.get(file_url(theirs, "pdf")).status_code == 404
    assert client.get(file_url(theirs, "html")).status_code == 404


def test_without_scoping_a_reconciler_reads_every_report(client, reconciler, payments):
    report = stored_report(payments)
    client.force_login(reconciler)
    assert client.get(file_url(report, "csv")).status_code == 200


def test_the_overview_and_team_pages_link_to_their_latest_ready_report(client, viewer, payments):
    platform = Team.objects.create(name="Platform", slug="platform")
    overview, team_page = reverse("dashboard:overview"), payments.get_absolute_url()
    client.force_login(viewer)
    for path in (overview, team_page):
        assert "No posture report yet" in client.get(path).content.decode()

    older, latest = stored_report(), stored_report()
    being_made = stored_report()
    Report.objects.filter(pk=being_made.pk).update(status=Report.Status.PENDING)
    ours, theirs = stored_report(payments), stored_report(platform)

    page = client.get(overview).content.decode()
    assert file_url(latest, "html") in page and file_url(latest, "pdf") in page
    for other in (older, ours, theirs):
        assert file_url(other, "pdf") not in page
    page = client.get(team_page).content.decode()
    assert file_url(ours, "html") in page and file_url(ours, "pdf") in page
    assert file_url(theirs, "pdf") not in page and file_url(latest, "pdf") not in page


def test_a_scoped_reconciler_gets_no_link_to_the_organisations_report(client, scoped_estate):
    organisation = stored_report()
    mine = stored_report(scoped_estate["teams"]["payments"])
    client.force_login(User.objects.get(username="itstaff"))
    page = client.get(reverse("dashboard:overview")).content.decode()
    assert file_url(organisation, "html") not in page
    page = client.get(scoped_estate["teams"]["payments"].get_absolute_url()).content.decode()
    assert file_url(mine, "pdf") in page
