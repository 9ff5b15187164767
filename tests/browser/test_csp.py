"""The Content-Security-Policy in Chromium: every page of the dashboard, the sign-in page and the
admin site load and work — htmx included — without one violation; the API docs with Redoc's."""

import re

import pytest

from inventory.models import Asset

from .conftest import WIDE, sign_in
from .test_workflows import tour

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any script of the page (Playwright injects it outside the page's CSP) and keeps
# every violation Chromium reports to the page.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || location.pathname}:${event.lineNumber}`);
});
"""


@pytest.fixture
def watched_page(open_page):
    """A page whose CSP violations, from the DOM event and from the console, are collected."""
    page = open_page(WIDE)
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.violations = []
    page.on(
        "console",
        lambda message: (
            page.violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return page


def visit(page, url) -> list[str]:
    response = page.goto(url)
    assert response.status == 200, url
    assert "default-src 'none'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__cspViolations") + page.violations


def test_every_dashboard_page_loads_without_a_csp_violation(
    live_server, watched_page, demo_estate, admin_account
):
    page = watched_page
    assert visit(page, f"{live_server.url}/accounts/login/") == []
    sign_in(page, live_server.url, "ops")
    problems = {}
    for name, path in tour(live_server, demo_estate):
        if found := visit(page, f"{live_server.url}{path}"):
            problems[name] = found
    assert problems == {}
    # htmx ran on these pages (a strict policy that silently broke it would pass the above).
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False


def test_an_htmx_decision_in_place_raises_no_violation(
    live_server, watched_page, demo_estate, admin_account
):
    page = watched_page
    sign_in(page, live_server.url, "ops")
    assert visit(page, f"{live_server.url}/reconcile/") == []
    queue = page.get_by_test_id("queue")
    row = queue.locator("tbody tr", has=page.get_by_role("button", name=re.compile("^Assign to ")))
    row = row.first
    asset = Asset.objects.get(pk=int(row.get_attribute("data-asset")))
    row.get_by_role("button", name=re.compile("^Assign to ")).click()
    queue.locator(f'tr.decided[data-decided="{asset.pk}"]').wait_for()
    assert page.url.endswith("/reconcile/")
    assert page.evaluate("window.__cspViolations") + page.violations == []


def test_admin_and_api_docs_load_without_a_csp_violation(
    live_server, watched_page, demo_estate, admin_account
):
    page = watched_page
    sign_in(page, live_server.url, "ops")
    for path in ("/admin/", "/admin/inventory/source/", "/admin/inventory/source/add/"):
        assert visit(page, f"{live_server.url}{path}") == [], path
    # Redoc's bundle links the "API docs by Redocly" logo from Redocly's CDN; the policy keeps
    # it blocked (nothing leaves the browser), which is the one report allowed on this page.
    blocked = visit(page, f"{live_server.url}/api/docs/")
    assert all("cdn.redoc.ly" in report and "img-src" in report for report in blocked), blocked
    page.get_by_text("Daylight API").first.wait_for()  # Redoc rendered the schema
