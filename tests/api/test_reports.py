"""Posture reports in the REST API: listed with their download links and downloaded behind
token authentication, under the same visibility as the dashboard's Reports page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Report, Team
from tests.dashboard.test_reports import stored_report

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/reports/"


def download(client, url, **headers):
    response = client.get(url, **headers)
    body = b"".join(response.streaming_content) if response.status_code == 200 else None
    return response, body


def test_a_viewer_lists_reports_and_downloads_each_file_by_its_link(api, viewer):
    report = stored_report()
    client = api(viewer, scope="read")

    listed = client.get(REPORTS)

    assert listed.status_code == 200, listed.content
    (row,) = listed.json()["results"]
    assert row["id"] == report.pk and row["scope"] == "organisation" and row["team"] is None
    assert row["status"] == "ready" and row["scope_name"] == "Organisation"
    assert row["period_end"].startswith(f"{report.period_end:%Y-%m-%d}")
    expected = {"html": b"<p>page</p>", "pdf": b"%PDF-1.7 x", "csv": b"a,b\n"}
    for extension, body in expected.items():
        link = row["files"][extension]
        assert link == f"http://testserver/api/v1/reports/{report.pk}/download/{extension}/"
        response, got = download(client, link)
        assert response.status_code == 200 and got == body
        assert report.filename(extension) in response["Content-Disposition"]
    pdf, _ = download(client, row["files"]["pdf"], HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith("attachment")
    html, _ = download(client, row["files"]["html"])
    assert html["Content-Type"].startswith("text/html")
    assert html["Content-Disposition"].startswith("inline")


def test_without_a_token_nothing_is_listed_or_downloaded(api):
    report = stored_report()
    client = api()

    assert client.get(REPORTS).status_code == 401
    assert client.get(f"{REPORTS}{report.pk}/download/pdf/").status_code == 401


def test_a_report_without_files_has_no_links_and_nothing_to_download(api, viewer):
    now = timezone.now()
    pending = Report.objects.create(scope_name="Organisation", period_start=now, period_end=now)
    client = api(viewer)

    row = client.get(f"{REPORTS}{pending.pk}/").json()

    assert row["status"] == "pending"
    assert row["files"] == {"html": None, "pdf": None, "csv": None}
    missing = client.get(f"{REPORTS}{pending.pk}/download/pdf/", HTTP_ACCEPT="application/pdf")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert client.get(f"{REPORTS}{pending.pk}/download/exe/").status_code == 404


def test_a_scoped_reconciler_sees_only_their_own_teams(api, settings, reconciler, viewer):
    settings.DAYLIGHT_TEAM_SCOPING = True
    payments = Team.objects.create(name="Payments", slug="payments")
    platform = Team.objects.create(name="Platform", slug="platform")
    payments.members.add(reconciler)
    organisation, mine, theirs = stored_report(), stored_report(payments), stored_report(platform)
    client = api(reconciler)

    listed = client.get(REPORTS).json()["results"]

    assert [(row["id"], row["team"]) for row in listed] == [(mine.pk, "payments")]
    assert client.get(f"{REPORTS}{theirs.pk}/").status_code == 404
    assert client.get(f"{REPORTS}{organisation.pk}/").status_code == 404
    assert client.get(f"{REPORTS}{theirs.pk}/download/pdf/").status_code == 404
    response, body = download(client, f"{REPORTS}{mine.pk}/download/csv/")
    assert response.status_code == 200 and body == b"a,b\n"
    # Viewers are never scoped: they read every team's report.
    assert len(api(viewer).get(REPORTS).json()["results"]) == 3
    team_filter = client.get(REPORTS, {"scope": "team"}).json()["results"]
    assert [row["id"] for row in team_filter] == [mine.pk]


def test_listing_takes_the_same_queries_for_one_report_or_many(api, viewer):
    client = api(viewer)
    stored_report()
    client.get(REPORTS)  # the token's last use is written once, on its first request
    with CaptureQueriesContext(connection) as one:
        assert client.get(REPORTS).status_code == 200
    for _ in range(4):
        stored_report()
    with CaptureQueriesContext(connection) as five:
        assert len(client.get(REPORTS).json()["results"]) == 5
    assert len(five) == len(one)
