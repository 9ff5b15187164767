"""In headless Chromium against the demo estate: a team member claims untracked assets for
their team from the queue (one click, in bulk, and choosing among several teams), and people
keep named views of the assets explorer, their own or shared."""

import re

import pytest

from dashboard.models import SavedView
from inventory.models import Asset, AuditLog, Team, TrackingStatus

from .conftest import NARROW, PROJECTOR, WIDE, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_team_member_claims_from_the_queue(
    live_server, open_page, demo_estate, reconciler_account
):
    payments = Team.objects.get(slug="payments")
    payments.members.add(reconciler_account)
    page = open_page(WIDE)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, "itstaff")
    page.goto(f"{live_server.url}/reconcile/")
    queue = page.get_by_test_id("queue")
    screenshot(page, "reconcile-member")

    # One click claims the first row for the only team they are in, in place.
    row = queue.locator("tbody tr[data-asset]").first
    asset = Asset.objects.get(pk=int(row.get_attribute("data-asset")))
    row.get_by_role("button", name="Claim for Payments").click()
    decided = queue.locator(f'tr.decided[data-decided="{asset.pk}"]')
    decided.wait_for()
    assert "Claimed 1 asset for Payments." in decided.inner_text()
    asset.refresh_from_db()
    assert (asset.owner, asset.tracking) == (payments, TrackingStatus.TRACKED)

    # Two more, selected, in bulk.
    page.reload()
    boxes = queue.locator('input[type="checkbox"][name="asset"]')
    chosen = [int(boxes.nth(i).get_attribute("value")) for i in (0, 1)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_test_id("bulk").get_by_role("button", name="Claim for Payments").click()
    page.wait_for_load_state()
    assert "Claimed 2 assets for Payments." in page.get_by_test_id("messages").inner_text()
    assert set(Asset.objects.filter(pk__in=chosen).values_list("owner", flat=True)) == {payments.pk}

    # A member of two teams chooses which one claims.
    platform = Team.objects.get(slug="platform")
    platform.members.add(reconciler_account)
    page.reload()
    row = queue.locator("tbody tr[data-asset]").first
    asset = Asset.objects.get(pk=int(row.get_attribute("data-asset")))
    claim = row.get_by_test_id("claim")
    options = claim.locator("select option").all_inner_texts()
    assert options == ["Payments", "Platform"]
    claim.get_by_role("combobox").select_option(label="Platform")
    screenshot(page, "reconcile-member-of-two")
    claim.get_by_role("button", name="Claim").click()
    queue.locator(f'tr.decided[data-decided="{asset.pk}"]').wait_for()
    asset.refresh_from_db()
    assert asset.owner == platform
    assert AuditLog.objects.filter(action="asset.claim", actor=reconciler_account).count() == 4
    assert errors == [] and page.dialogs == []


# How many lines the visible controls of an element sit on: their vertical centres, told apart
# when they are more than 8 px apart (a text and a button on one line differ by a pixel or two).
LINES = """element => {
    const centres = [...element.querySelectorAll('.bulk-title, button, select, input')]
        .filter(e => e.type !== 'hidden' && e.getClientRects().length)
        .map(e => { const box = e.getBoundingClientRect(); return box.top + box.height / 2; })
        .sort((a, b) => a - b);
    return centres.filter((centre, i) => i === 0 || centre - centres[i - 1] > 8).length;
}"""
# The text fields of an element whose placeholder is cut off.
CUT_PLACEHOLDERS = """element => {
    const pen = document.createElement('canvas').getContext('2d');
    return [...element.querySelectorAll('input[placeholder]')].filter(field => {
        const style = getComputedStyle(field);
        pen.font = style.font;
        const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
        const room = field.clientWidth - padding;
        return pen.measureText(field.placeholder).width > room;
    }).map(field => field.placeholder);
}"""


def test_the_bulk_bar_is_one_line_at_a_projector_and_wraps_between_decisions_on_a_phone(
    live_server, open_page, demo_estate, reconciler_account
):
    # The widest bars: one team with the demo's longest name, then two teams to choose from,
    # the longest name chosen in both of the bar's team lists.
    Team.objects.get(slug="data-science").members.add(reconciler_account)
    page = open_page(PROJECTOR)
    sign_in(page, live_server.url, "itstaff")
    page.goto(f"{live_server.url}/reconcile/")
    bulk = page.get_by_test_id("bulk")
    assert bulk.get_by_role("button", name="Claim for Data Science").is_visible()
    assert bulk.evaluate(LINES) == 1
    assert bulk.evaluate(CUT_PLACEHOLDERS) == []
    screenshot(page, "reconcile-bulk-bar")

    Team.objects.get(slug="payments").members.add(reconciler_account)
    page.reload()
    bulk.get_by_label("Which of your teams claims them").select_option(label="Data Science")
    bulk.get_by_label("Team", exact=True).select_option(label="Data Science")
    assert bulk.evaluate(LINES) == 1
    # One line, not a clipped one: every control is whole inside the bar, every hint readable.
    assert bulk.evaluate("bar => bar.scrollWidth <= bar.clientWidth")
    assert bulk.evaluate(CUT_PLACEHOLDERS) == []

    # On a phone it wraps between its decisions, each one's field beside its button.
    phone = open_page(NARROW)
    sign_in(phone, live_server.url, "itstaff")
    phone.goto(f"{live_server.url}/reconcile/")
    bar = phone.get_by_test_id("bulk")
    groups = bar.get_by_role("group")
    assert groups.count() == 3  # claim; assign or rule, both for a team; accept the risk
    for index in range(groups.count()):
        assert groups.nth(index).evaluate(LINES) == 1, groups.nth(index).get_attribute("aria-label")
    assert bar.evaluate("bar => bar.scrollWidth <= bar.clientWidth")
    assert bar.evaluate(CUT_PLACEHOLDERS) == []
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "reconcile-bulk-bar")


def test_a_reconciler_in_no_team_sees_no_claim(
    live_server, open_page, demo_estate, reconciler_account
):
    page = open_page(WIDE)
    sign_in(page, live_server.url, "itstaff")
    page.goto(f"{live_server.url}/reconcile/")
    assert page.get_by_test_id("queue").locator("tbody tr[data-asset]").count() > 0
    assert page.get_by_role("button", name=re.compile("^Claim")).count() == 0
    assert page.get_by_role("button", name=re.compile("^Assign to ")).count() > 0


def test_people_save_open_share_and_delete_named_views(
    live_server, open_page, demo_estate, viewer_account, reconciler_account
):
    page = open_page(WIDE)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, "ciso")
    page.goto(f"{live_server.url}/assets/?exposed=yes&sort=-severity")
    menu = page.get_by_test_id("saved-views")
    menu.locator("summary").click()
    assert "No saved views yet" in menu.inner_text()
    menu.get_by_label("Save these filters as").fill("Exposed <worst first>")
    menu.get_by_label("Shared with everyone").check()
    menu.get_by_role("button", name="Save view").click()
    page.wait_for_url("**/assets/?exposed=yes&sort=-severity")
    assert "Saved the view" in page.get_by_test_id("messages").inner_text()
    assert page.get_by_test_id("current-view").inner_text() == "· Exposed <worst first>"
    view = SavedView.objects.get()
    assert (view.owner, view.shared) == (viewer_account, True)
    menu.locator("summary").click()
    screenshot(page, "assets-saved-views")

    # Someone else finds it among the shared views and opens it.
    other = open_page(WIDE)
    sign_in(other, live_server.url, "itstaff")
    other.goto(f"{live_server.url}/assets/")
    other_menu = other.get_by_test_id("saved-views")
    other_menu.locator("summary").click()
    shared = other.get_by_test_id("shared-views")
    assert "ciso" in shared.inner_text()
    assert other.get_by_test_id("my-views").count() == 0
    shared.get_by_role("link", name="Exposed <worst first>").click()
    other.wait_for_url("**/assets/?exposed=yes&sort=-severity")
    exposed = Asset.objects.filter(gone_at__isnull=True, exposed=True).count()
    assert int(re.sub(r"\D", "", other.get_by_test_id("result-count").inner_text())) == exposed
    assert other.get_by_role("button", name=re.compile("^Delete the view")).count() == 0

    # Its owner deletes it.
    page.get_by_role("button", name="Delete the view Exposed <worst first>").click()
    page.wait_for_load_state()
    assert "Deleted the view" in page.get_by_test_id("messages").inner_text()
    assert not SavedView.objects.exists()
    assert errors == [] and page.dialogs == []
