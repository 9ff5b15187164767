"""Team scoping on the dashboard: a scoped reconciler's lists, pages, queue and decisions cover
their teams' assets and the unowned pool only; a viewer still reads everything."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from inventory import services
from inventory.models import Asset, AuditLog
from tests.conftest import PLATFORM_SECRET

from .helpers import page_of, queries_for, text_of

DECIDE = reverse("dashboard:decide")


@pytest.fixture
def scoped(client, scoped_estate, reconciler):
    client.force_login(reconciler)
    return scoped_estate


def listed(response):
    page = response.content.decode()
    return sorted(name for name in ("pay", "plat", "shadow") if f">{name}</a>" in page)


def test_the_asset_list_and_its_export_cover_the_scope(client, scoped):
    assert listed(client.get(reverse("dashboard:assets"))) == ["pay", "shadow"]
    export = client.get(reverse("dashboard:assets-export"))
    csv = b"".join(export.streaming_content).decode()
    assert "arn:fn:pay" in csv and "arn:fn:shadow" in csv and "arn:fn:plat" not in csv


def test_another_teams_asset_page_is_not_found(client, scoped):
    assert client.get(scoped["plat"].get_absolute_url()).status_code == 404
    page = client.get(scoped["shadow"].get_absolute_url()).content.decode()
    assert 'data-testid="decide"' in page or "Assign" in page
    assert ">Payments</option>" in page and ">Platform</option>" not in page


def test_the_queue_holds_the_unowned_pool_and_offers_only_their_teams(client, scoped):
    response = client.get(reverse("dashboard:reconcile"))
    assert listed(response) == ["shadow"]
    page = response.content.decode()
    assert ">Payments</option>" in page and ">Platform</option>" not in page


def test_a_team_page_lists_only_assets_in_scope(client, scoped):
    page = client.get(reverse("dashboard:team", args=["platform"])).content.decode()
    assert ">plat</a>" not in page
    page = client.get(reverse("dashboard:team", args=["payments"])).content.decode()
    assert ">pay</a>" in page


def test_deciding_outside_the_scope_is_403_and_changes_nothing(client, scoped):
    payments, platform = scoped["teams"]["payments"], scoped["teams"]["platform"]
    outside = client.post(
        DECIDE, {"action": "assign", "asset": scoped["plat"].pk, "team": payments.pk}
    )
    other_team = client.post(
        DECIDE, {"action": "assign", "asset": scoped["shadow"].pk, "team": platform.pk}
    )
    assert (outside.status_code, other_team.status_code) == (403, 403)
    assert Asset.objects.get(name="plat").owner == platform
    assert Asset.objects.get(name="shadow").owner is None
    assert not AuditLog.objects.exists()

    claimed = client.post(
        DECIDE, {"action": "assign", "asset": scoped["shadow"].pk, "team": payments.pk}
    )
    assert claimed.status_code == 302
    assert Asset.objects.get(name="shadow").owner == payments


def test_a_viewer_still_reads_everything(client, scoped_estate, viewer):
    client.force_login(viewer)
    assert listed(client.get(reverse("dashboard:assets"))) == ["pay", "plat", "shadow"]
    assert client.get(scoped_estate["plat"].get_absolute_url()).status_code == 200


# Every page that shows figures, rows or names, as a scoped reconciler reaches it.
ESTATE_PAGES = [
    "/",
    "/?trend=90",
    "/assets/",
    "/reconcile/",
    "/versions/",
    "/teams/",
    "/teams/payments/",
    "/teams/none/",
    "/access/",
    "/access/?actor=alice",
    "/audit/",
    "/sources/",
    "/sources/test-source/",
]


def assert_no_trace_of_platform(page: str, where=""):
    assert PLATFORM_SECRET not in page, where
    assert ">plat<" not in page and "arn:fn:plat" not in page, where


def test_estate_pages_count_and_show_only_the_scope(
    client, scoped_estate, platform_ledger, reconciler, admin_user
):
    platform_ledger(3)
    ledger = Asset.objects.get(name=f"{PLATFORM_SECRET}-0")
    platform = scoped_estate["teams"]["platform"]
    services.accept_risk([scoped_estate["plat"], ledger], admin_user, "known job", team=platform)
    services.assign_owner([scoped_estate["shadow"]], scoped_estate["teams"]["payments"], reconciler)
    client.force_login(admin_user)  # the whole estate's figures are cached first
    overview = page_of(client.get("/"))
    assert text_of(overview, "total-count") == "8"  # pay, plat, shadow, orphan, cluster, 3
    assert 'data-testid="scope-note"' not in overview
    for url in ESTATE_PAGES:
        page_of(client.get(url))

    client.force_login(reconciler)
    pages = {url: page_of(client.get(url)) for url in ESTATE_PAGES}
    for url, page in pages.items():
        assert_no_trace_of_platform(page, url)
    overview = pages["/"]
    assert text_of(overview, "total-count") == "3"  # pay, shadow (now Payments'), orphan-app
    assert "your teams' assets and the unowned pool" in text_of(overview, "scope-note")
    assert text_of(overview, "untracked-count") == "1"
    assert text_of(overview, "eol-count") == "0"
    assert "python3.7" not in pages["/versions/"] and "1.19.2" not in pages["/versions/"]
    assert "Platform" not in pages["/teams/"] and "Payments" in pages["/teams/"]
    assert text_of(pages["/access/"], "event-count") == "2 events"
    actor = pages["/access/?actor=alice"]
    assert (text_of(actor, "actor-events"), text_of(actor, "actor-assets")) == ("2", "2")
    audit = pages["/audit/"]
    assert "shadow" in audit  # their own claim
    assert "known job" not in audit

    client.force_login(admin_user)  # and the scoped figures never reach anyone else
    assert text_of(page_of(client.get("/")), "total-count") == "8"
    assert PLATFORM_SECRET in page_of(client.get("/audit/"))


def test_another_teams_page_is_not_found_and_their_parent_not_named(
    client, scoped, platform_ledger
):
    platform_ledger(1)
    assert client.get("/teams/platform/").status_code == 404
    orphan = Asset.objects.get(name="orphan-app")
    assert orphan.parent is not None and orphan.parent.owner.slug == "platform"
    page = page_of(client.get(orphan.get_absolute_url()))
    assert "orphan-app" in page
    assert_no_trace_of_platform(page)


def test_the_unowned_page_shows_a_scoped_reconciler_the_whole_unowned_pool(
    client, scoped, platform_ledger, viewer
):
    """As on the Teams list and in the queue, every unowned asset is in everyone's scope (it
    is where claiming happens), so a scoped reconciler reads the page a viewer reads: the same
    figures and rows, and not a trace of another team's assets, even an unowned child's."""
    platform_ledger(2)
    mine = page_of(client.get(reverse("dashboard:unowned")))
    assert_no_trace_of_platform(mine)
    mine_row = unowned_row(page_of(client.get(reverse("dashboard:teams"))))
    client.force_login(viewer)
    theirs = page_of(client.get(reverse("dashboard:unowned")))
    # orphan-app and shadow; shadow answers the internet without authentication
    both = {"total": "2", "exposed": "1", "eol": "0", "accepted": "0", "findings": "1"}
    assert figures(mine) == figures(theirs) == both
    assert unowned_row(page_of(client.get(reverse("dashboard:teams")))) == mine_row
    assert mine_row == ["2", "1", "0", "1", "0"]
    for page in (mine, theirs):
        assert ">orphan-app</a>" in page and ">shadow</a>" in page
        assert '<a href="/reconcile/"><strong>2</strong> untracked assets' in page


def figures(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="team-([a-z]+)">([\d,]+)</a>', page))


def unowned_row(page: str) -> list[str]:
    """The Teams list's unowned assets, exposed, EOL, findings and accepted (the kinds between
    are the kinds of what the reader sees)."""
    row = page.split('data-team="none"')[1].split("</tr>")[0]
    numbers = re.findall(r'<td class="num[^"]*"><[^>]+>([\d,]+)<', row)
    return [numbers[0], *numbers[-4:]]


@pytest.mark.parametrize("url", ESTATE_PAGES)
def test_scoped_pages_cost_the_same_whatever_the_other_teams_hold(
    client, scoped, platform_ledger, url
):
    platform_ledger(1)
    cache.clear()
    small = queries_for(client, url)
    platform_ledger(6)
    cache.clear()
    assert queries_for(client, url) == small
