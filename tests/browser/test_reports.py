"""Posture reports in Chromium: an admin makes the organisation's report from the Reports page,
a viewer opens its web page (styled by its own stylesheet, no inline style or script) and
downloads its PDF. Screenshots of both pages land with the others."""

import pytest

from inventory.models import Report
from tests.inventory.receivers import tasks_in_process

from .conftest import WIDE, screenshot, sign_in

__all__ = ["tasks_in_process"]  # a fixture: the report is made in the server, even with a broker
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_makes_a_report_and_a_viewer_reads_it(
    live_server, open_page, demo_estate, admin_account, viewer_account, tasks_in_process
):
    admin = open_page(WIDE)
    sign_in(admin, live_server.url, "ops")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    admin.wait_for_url(f"{live_server.url}/reports/")
    admin.get_by_label("Scope").select_option(label="Organisation")
    admin.get_by_role("button", name="Make report").click()
    admin.wait_for_load_state("networkidle")
    report = Report.objects.get()
    assert report.status == Report.Status.READY, report.error
    assert "Made the Organisation report" in admin.get_by_test_id("messages").inner_text()
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    latest = admin.get_by_test_id("latest-report")
    assert latest.get_by_role("link", name="PDF").get_attribute("href") == (
        f"/reports/{report.pk}/report.pdf"
    )

    viewer = open_page(WIDE)
    errors = []
    viewer.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(viewer, live_server.url, "ciso")
    viewer.goto(f"{live_server.url}/reports/")
    row = viewer.locator(f'[data-report="{report.pk}"]')
    assert "Ready" in row.inner_text()
    assert viewer.get_by_test_id("report-form").count() == 0
    screenshot(viewer, "reports")

    with viewer.expect_download() as download:
        row.get_by_role("link", name="PDF").click()
    assert download.value.suggested_filename == report.filename("pdf")

    row.get_by_role("link", name="Web page").click()
    viewer.wait_for_load_state("networkidle")
    assert viewer.locator("h1").inner_text() == "Organisation"
    # The report's own stylesheet applied: the tiles sit in one row of six.
    tiles = viewer.locator(".rtile")
    assert tiles.count() == 6
    first, last = tiles.nth(0).bounding_box(), tiles.nth(5).bounding_box()
    assert abs(first["y"] - last["y"]) < 1
    assert viewer.locator("style, script, [style]").count() == 0
    screenshot(viewer, "report-page")
    assert errors == []
