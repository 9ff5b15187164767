"""The issue's workflows in headless Chromium against the demo estate: a CISO drills from an
overview number to the list behind it and to an asset's timeline; a reconciler assigns an
untracked asset from the queue, which leaves the queue and shows in the audit log; a viewer
cannot. Then a tour of every page at four sizes, with screenshots to look at."""

import re

import pytest

from inventory.models import (
    Asset,
    AuditLog,
    CollectionRun,
    Team,
    TrackingDecision,
    TrackingStatus,
)

from .conftest import FULL_HD, NARROW, PROJECTOR, WIDE, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def number(locator) -> int:
    return int(re.sub(r"[^\d]", "", locator.inner_text()))


def live():
    return Asset.objects.filter(gone_at__isnull=True)


def test_a_ciso_drills_from_an_overview_number_to_an_assets_timeline(
    live_server, open_page, demo_estate, viewer_account
):
    page = open_page(WIDE)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, "ciso")
    untracked = live().filter(tracking=TrackingStatus.UNTRACKED)
    assert number(page.get_by_test_id("untracked-count")) == untracked.count() > 0
    assert page.get_by_test_id("trend-chart").is_visible()
    assert page.get_by_test_id("exposure-chart").is_visible()

    page.get_by_test_id("untracked-count").click()
    page.wait_for_url("**/assets/?tracking=untracked")
    assert page.get_by_role("heading", level=1).inner_text() == "Assets"
    assert number(page.get_by_test_id("result-count")) == untracked.count()
    rows = page.get_by_test_id("assets").locator("tbody tr")
    assert rows.count() == min(untracked.count(), 50)
    assert rows.locator(".marker-untracked").count() == rows.count()
    assert "Tracking" in page.get_by_test_id("chips").inner_text()
    screenshot(page, "drill-untracked-list")

    # Narrow it further from the filters, as a person would, then open the first asset.
    page.get_by_label("Provider").select_option("aws")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/assets/?*provider=aws*")
    aws = untracked.filter(provider="aws").order_by("name", "id")
    assert number(page.get_by_test_id("result-count")) == aws.count() > 0
    first = aws.first()
    page.get_by_test_id("assets").get_by_role("link", name=first.name, exact=True).click()
    page.wait_for_url(f"**{first.get_absolute_url()}")
    assert page.get_by_test_id("asset-name").inner_text() == first.name
    assert "Untracked" in page.get_by_test_id("asset-flags").inner_text()
    timeline = page.get_by_test_id("timeline")
    assert timeline.locator('tr[data-kind="change"]').count() == first.changes.count() > 0
    assert timeline.locator('tr[data-field="lifecycle"]').first.inner_text().count("discovered")
    assert page.get_by_test_id("decide").count() == 0  # a viewer decides nothing
    screenshot(page, "drill-asset-timeline")
    assert errors == [] and page.dialogs == []


def test_a_reconciler_assigns_from_the_queue_and_it_shows_in_the_audit_log(
    live_server, open_page, demo_estate, reconciler_account
):
    page = open_page(WIDE)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, "itstaff")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reconcile").click()
    page.wait_for_url("**/reconcile/")
    queue = page.get_by_test_id("queue")
    screenshot(page, "reconcile")

    # The first row the queue suggests an owner for: one click assigns it, in place (htmx).
    row = queue.locator("tbody tr", has=page.get_by_role("button", name=re.compile("^Assign to ")))
    row = row.first
    asset = Asset.objects.get(pk=int(row.get_attribute("data-asset")))
    button = row.get_by_role("button", name=re.compile("^Assign to "))
    team = Team.objects.get(name=button.inner_text().removeprefix("Assign to "))
    assert asset.tracking == TrackingStatus.UNTRACKED
    button.click()
    decided = queue.locator(f'tr.decided[data-decided="{asset.pk}"]')
    decided.wait_for()
    assert f"Assigned 1 asset to {team.name}." in decided.inner_text()
    assert page.url.endswith("/reconcile/")  # no page load: the row was replaced
    asset.refresh_from_db()
    assert (asset.owner, asset.tracking) == (team, TrackingStatus.TRACKED)
    screenshot(page, "reconcile-assigned")

    # It has left the queue ...
    page.reload()
    assert queue.locator(f'tr[data-asset="{asset.pk}"]').count() == 0

    # ... and a selection is decided in bulk: accept the risk of two, with a reason.
    boxes = queue.locator('input[type="checkbox"][name="asset"]')
    chosen = [int(boxes.nth(i).get_attribute("value")) for i in (0, 1)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    bulk = page.get_by_test_id("bulk")
    assert "2 selected" in bulk.inner_text()
    bulk.get_by_label("Reason for accepting the risk").fill("Load test rig until March")
    bulk.get_by_role("button", name="Accept risk").click()
    page.wait_for_load_state()
    assert "Accepted the risk of 2 assets until" in page.get_by_test_id("messages").inner_text()
    for pk in chosen:
        assert queue.locator(f'tr[data-asset="{pk}"]').count() == 0
    assert TrackingDecision.objects.filter(asset_id__in=chosen, kind="accept").count() == 2

    # The audit log says who did it, to what.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    page.wait_for_url("**/audit/")
    entries = page.get_by_test_id("audit").locator("tbody tr")
    assign = entries.filter(has_text="Assigned to a team").first
    assert asset.name in assign.inner_text() and "itstaff" in assign.inner_text()
    assert team.name in assign.inner_text()
    assert entries.filter(has_text="Accepted the risk").count() == 2
    assert AuditLog.objects.filter(actor__username="itstaff").count() == 3
    screenshot(page, "audit")
    assign.get_by_role("link", name=asset.name).click()
    page.wait_for_url(f"**{asset.get_absolute_url()}")
    change = page.get_by_test_id("timeline").locator('tr[data-field="tracking"]').first
    assert "itstaff" in change.inner_text() and "tracked" in change.inner_text()
    assert errors == [] and page.dialogs == []


def test_deciding_works_without_javascript(live_server, open_page, demo_estate, reconciler_account):
    page = open_page(WIDE, java_script_enabled=False)
    sign_in(page, live_server.url, "itstaff")
    page.goto(f"{live_server.url}/reconcile/")
    row = page.get_by_test_id("queue").locator(
        "tbody tr", has=page.get_by_role("button", name=re.compile("^Assign to "))
    )
    asset_id = int(row.first.get_attribute("data-asset"))
    row.first.get_by_role("button", name=re.compile("^Assign to ")).click()
    page.wait_for_url("**/reconcile/")
    assert "Assigned 1 asset to" in page.get_by_test_id("messages").inner_text()
    assert page.locator(f'tr[data-asset="{asset_id}"]').count() == 0
    assert Asset.objects.get(pk=asset_id).tracking == TrackingStatus.TRACKED


def test_a_viewer_cannot_decide(live_server, open_page, demo_estate, viewer_account):
    page = open_page(WIDE)
    sign_in(page, live_server.url, "ciso")
    page.goto(f"{live_server.url}/reconcile/")
    queue = page.get_by_test_id("queue")
    assert queue.locator("tbody tr[data-asset]").count() > 0  # reading is fine
    assert page.get_by_role("button", name=re.compile("Assign")).count() == 0
    assert page.locator('input[type="checkbox"]').count() == 0
    assert page.get_by_test_id("bulk").count() == 0
    screenshot(page, "reconcile-viewer")

    # Forging the request with the viewer's own session and CSRF token is refused.
    target = live().filter(tracking=TrackingStatus.UNTRACKED).first()
    team = Team.objects.first()
    status = page.evaluate(
        """async ([asset, team]) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const body = new URLSearchParams({action: "assign", asset, team});
            const response = await fetch("/reconcile/decide/", {
                method: "POST", body, headers: {"X-CSRFToken": token}});
            return response.status;
        }""",
        [str(target.pk), str(team.pk)],
    )
    assert status == 403
    target.refresh_from_db()
    assert target.tracking == TrackingStatus.UNTRACKED
    assert not AuditLog.objects.filter(action__startswith="asset.").exists()
    page.goto(f"{live_server.url}{target.get_absolute_url()}")
    assert page.get_by_test_id("decide").count() == 0
    assert page.get_by_test_id("suggestion").is_visible()


def tour(live_server, demo_estate):
    """(screenshot name, path) for every page, on the demo estate."""
    asset = live().filter(tracking=TrackingStatus.UNTRACKED, exposed=True).first()
    run = CollectionRun.objects.order_by("-started_at").first()
    actor = asset.events.exclude(actor="").values_list("actor", flat=True).first()
    return [
        ("overview", "/"),
        ("overview-90-days", "/?trend=90"),
        ("assets", "/assets/?exposed=yes&sort=-severity"),
        ("asset", asset.get_absolute_url()),
        ("reconcile", "/reconcile/"),
        ("teams", "/teams/"),
        ("team", "/teams/payments/"),
        ("unowned", "/teams/none/"),
        ("versions", "/versions/"),
        ("access", "/access/"),
        ("access-actor", f"/access/?actor={actor}"),
        ("sources", "/sources/"),
        ("source", f"/sources/{demo_estate.name}/"),
        ("run", f"/sources/runs/{run.pk}/"),
        ("audit", "/audit/"),
        ("notifications", "/notifications/"),
        ("reports", "/reports/"),
    ]


@pytest.mark.parametrize(
    "size", [WIDE, FULL_HD, PROJECTOR, NARROW], ids=["1440", "1920", "projector", "narrow"]
)
def test_every_page_at_four_sizes(live_server, open_page, demo_estate, admin_account, size):
    page = open_page(size)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, "ops")
    for name, path in tour(live_server, demo_estate):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert page.get_by_role("heading", level=1).count() == 1, path
        # The page never scrolls sideways; wide tables scroll inside their own box.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
        # Above phone widths no table hides columns behind a sideways scroll of its own either.
        clipped = page.evaluate(
            "[...document.querySelectorAll('main .table-wrap')]"
            ".filter(box => box.scrollWidth > box.clientWidth + 1).length"
        )
        assert size == NARROW or clipped == 0, (path, clipped)
        screenshot(page, f"tour-{name}")
    assert errors == [] and page.dialogs == []


def test_dark_theme_pages(live_server, open_page, demo_estate, reconciler_account):
    page = open_page(WIDE, color_scheme="dark")
    sign_in(page, live_server.url, "itstaff")
    for name, path in (("overview", "/"), ("reconcile", "/reconcile/"), ("assets", "/assets/")):
        page.goto(f"{live_server.url}{path}")
        screenshot(page, f"dark-{name}")
    line = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert line == "rgb(13, 17, 23)"
