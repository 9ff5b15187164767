"""Daylight as a person uses it, in headless Chromium against a live server with the demo
estate: sign in, read the overview, follow the way to an asset, sign out."""

import re

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from collectors.records import AccessRecord
from inventory.ingest import ScopeIngest
from inventory.models import (
    Asset,
    CollectionRun,
    RunTrigger,
    Scope,
    ScopeRun,
    TrackingStatus,
)
from tests.conftest import asset

from .conftest import FULL_HD, NARROW, PROJECTOR, WIDE, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE_NAME = '"><img src=x onerror=alert(1)>'
HOSTILE_TAG = "<script>alert('xss')</script>"


def number(page, testid) -> int:
    return int(page.get_by_test_id(testid).inner_text().strip().rstrip("%"))


def test_a_viewer_signs_in_reads_the_real_counts_and_opens_an_asset(
    live_server, open_page, demo_estate, viewer_account
):
    page = open_page(WIDE)
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    screenshot(page, "login")
    sign_in(page, live_server.url, "ciso")

    live = Asset.objects.filter(gone_at__isnull=True)
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert number(page, "total-count") == live.count() > 100
    assert number(page, "untracked-count") == live.filter(tracking=TrackingStatus.UNTRACKED).count()
    assert number(page, "exposed-count") == live.filter(exposed=True).count() > 0
    assert number(page, "eol-count") == live.filter(eol=True).count() > 0
    assert number(page, "accepted-count") == 0
    for row in live.values("provider").annotate(n=Count("id")):
        cells = page.locator(f'[data-testid="provider-kind"] tr[data-provider="{row["provider"]}"]')
        assert cells.locator("td.total").inner_text() == str(row["n"])
    # Collection health: the demo's scopes, each collected just now.
    health = page.get_by_test_id("collection-health")
    assert health.locator("tr.scope-row").count() == Scope.objects.count() >= 5
    assert health.locator("tr.attention").count() == 0
    assert page.get_by_test_id("recent-runs").locator("tbody tr").count() == 3
    assert page.get_by_role("link", name="Administration").count() == 0
    assert "Viewer" in page.locator(".whoami").inner_text()
    screenshot(page, "overview")
    page.set_viewport_size({"width": FULL_HD[0], "height": FULL_HD[1]})
    screenshot(page, "overview")
    page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})

    # The way in: Teams → a team → one of its assets.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Teams"
    screenshot(page, "teams")
    # The unowned row opens a page of its own, and back.
    page.get_by_role("link", name="Unowned").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Unowned"
    unowned = live.filter(owner=None)
    shown = page.get_by_test_id("team-assets").locator("tbody tr").count()
    assert shown == min(unowned.count(), 50) > 0
    assert number(page, "team-total") == unowned.count()
    screenshot(page, "unowned")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Teams").click()
    page.get_by_role("link", name="Payments").click()
    assert page.get_by_test_id("team-name").inner_text() == "Payments"
    owned = live.filter(owner__slug="payments")
    shown = page.get_by_test_id("team-assets").locator("tbody tr").count()
    assert shown == min(owned.count(), 50) > 0  # the first fifty; the explorer has them all
    screenshot(page, "team")

    target = owned.filter(exposed=True).order_by("provider", "kind", "name").first()
    page.get_by_test_id("team-assets").get_by_role(
        "link", name=target.name, exact=True
    ).first.click()
    page.wait_for_url(f"**{target.get_absolute_url()}")
    assert page.get_by_test_id("asset-name").inner_text() == target.name
    assert "Exposed" in page.get_by_test_id("asset-flags").inner_text()
    assert page.get_by_role("link", name="Payments").count() >= 1
    screenshot(page, "asset")
    assert page.dialogs == []


def test_a_cluster_leads_to_what_runs_on_it_and_back(
    live_server, open_page, demo_estate, viewer_account
):
    """From the demo's ECS cluster in us-east-1 to the explorer listing its services and
    their containers, under a chip that reads "Runs on", at a desk and on a phone."""

    def running_on(clusters):
        live = Asset.objects.filter(gone_at=None)
        return live.filter(Q(parent__in=clusters) | Q(parent__parent__in=clusters))

    named_prod = Asset.objects.filter(kind="cluster", name="prod")
    cluster = named_prod.get(region="us-east-1")
    running = running_on([cluster])
    assert running.filter(kind="container").exists()
    for size in (WIDE, NARROW):
        page = open_page(size)
        sign_in(page, live_server.url, "ciso")
        page.goto(f"{live_server.url}{cluster.get_absolute_url()}")
        link = page.get_by_test_id("running-on")
        assert link.inner_text() == f"All {running.count()} running on it in the explorer"
        screenshot(page, "asset-cluster")
        link.click()
        page.wait_for_url("**/assets/?runs_on=*")
        count = running.count()
        assert page.get_by_test_id("result-count").inner_text() == f"{count} assets"
        chip = page.get_by_test_id("chips").locator(".chip")
        assert chip.inner_text().replace("\n", "").startswith(f"Runs on{cluster.key}")
        assert page.get_by_label("Cluster / host").input_value() == cluster.key
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (size, overflow)
        screenshot(page, "assets-runs-on")
        # Its name lists every cluster so named: the demo has one in eu-west-1 too.
        page.get_by_label("Cluster / host").fill("prod")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url(re.compile(r"[?&]runs_on=prod(&|$)"))
        both = running_on(named_prod).count()
        assert both > count and named_prod.count() == 2
        assert page.get_by_test_id("result-count").inner_text() == f"{both} assets"
    assert page.dialogs == []


def test_hostile_tags_and_names_render_as_text_and_never_run(
    live_server, open_page, demo_estate, viewer_account
):
    # The demo estate's own booby-trapped container, and one fed through ingest by hand.
    grafana = Asset.objects.get(name="grafana", provider="docker")
    assert "<script>" in grafana.labels["note"]
    scope, _ = Scope.objects.get_or_create(source=demo_estate, key="hostile")
    run = CollectionRun.objects.create(
        source=demo_estate, trigger=RunTrigger.COMMAND, started_at=grafana.first_seen
    )
    ingest = ScopeIngest(ScopeRun.objects.create(run=run, scope=scope, started_at=run.started_at))
    key = "arn:aws:lambda:eu-west-1:111111111111:function:hostile"
    ingest.add(asset(key, name=HOSTILE_NAME, labels={"owner": HOSTILE_TAG, HOSTILE_NAME: "x"}))
    ingest.add(
        AccessRecord(
            event_id="hostile-1",
            provider="aws",
            occurred_at=run.started_at,
            action=HOSTILE_NAME,
            asset_key=key,
            actor=HOSTILE_TAG,
        )
    )
    ingest.finish(complete=True)
    hostile = Asset.objects.get(key=key)

    page = open_page(WIDE)
    sign_in(page, live_server.url, "ciso")
    page.goto(f"{live_server.url}{grafana.get_absolute_url()}")
    labels = page.get_by_test_id("labels")
    assert (
        labels.locator("tr", has_text="note").locator("td").inner_text() == grafana.labels["note"]
    )
    screenshot(page, "asset-hostile-tag")

    page.goto(f"{live_server.url}{hostile.get_absolute_url()}")
    assert page.get_by_test_id("asset-name").inner_text() == HOSTILE_NAME
    assert page.title().startswith(HOSTILE_NAME)
    assert labels.locator("tr", has_text="owner").locator("td").inner_text() == HOSTILE_TAG
    events = page.get_by_test_id("timeline").locator('tr[data-kind="event"]')
    assert events.first.inner_text().count(HOSTILE_TAG) == 1
    assert HOSTILE_NAME in events.first.inner_text()
    # Nothing of the hostile text became markup: no scripts but Daylight's own, no images.
    sources = page.eval_on_selector_all("script", "scripts => scripts.map(s => s.src)")
    assert sources and all("/static/daylight/" in src for src in sources)
    assert page.locator("img").count() == 0
    assert page.dialogs == []


def test_very_long_cloud_names_never_widen_the_page(
    live_server, open_page, demo_estate, reconciler_account
):
    """Names, keys, tags, images and principals run to hundreds of characters without a space;
    at a projector's 1280x720 and on a phone every page that shows them still fits its width."""
    scope, _ = Scope.objects.get_or_create(source=demo_estate, key="long")
    run = CollectionRun.objects.create(
        source=demo_estate, trigger=RunTrigger.COMMAND, started_at=timezone.now()
    )
    ingest = ScopeIngest(ScopeRun.objects.create(run=run, scope=scope, started_at=run.started_at))
    account = "999999999999"
    name = "batch-" + "verylongfunctionname" * 10
    key = f"arn:aws:lambda:eu-west-1:{account}:function:{name}"
    actor = f"arn:aws:sts::{account}:assumed-role/" + "DeploymentAutomationRole" * 6 + "/ci"
    labels = {"k" * 120: "v" * 250, "team-" + "x" * 60: "<b>" + "y" * 80 + "</b>"}
    runtime = "python" + "3" * 40
    ingest.add(asset(key, name=name, account=account, labels=labels, runtime=runtime))
    ingest.add(
        AccessRecord(
            event_id="long-1",
            provider="aws",
            occurred_at=run.started_at,
            action="UpdateFunctionConfiguration" * 4,
            asset_key=key,
            actor=actor,
        )
    )
    ingest.finish(complete=True)
    long_one = Asset.objects.get(key=key)
    assert long_one.tracking == TrackingStatus.UNTRACKED

    for size in (PROJECTOR, NARROW):
        page = open_page(size)
        sign_in(page, live_server.url, "itstaff")
        for shot, path, shown in (
            ("long-asset", long_one.get_absolute_url(), name),
            ("long-assets", f"/assets/?account={account}", name),
            ("long-reconcile", f"/reconcile/?account={account}", name),
            ("long-access", f"/access/?actor={actor}", actor),
            ("long-versions", "/versions/", runtime),
        ):
            assert page.goto(f"{live_server.url}{path}").status == 200, path
            assert shown in page.locator("main").inner_text(), path
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, size, overflow)
            screenshot(page, shot)


# Every piece of text a chart shows: its words, its size in CSS pixels as drawn (an SVG's
# text is scaled with its drawing) and whether it lies inside the chart's panel.
CHART_TEXT = """figure => {
    const panel = figure.closest('.panel').getBoundingClientRect();
    const texts = [];
    const walker = document.createTreeWalker(figure, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const element = node.parentElement;
        const words = node.textContent.trim();
        if (!words || element.closest('title, desc, figcaption, .visually-hidden')) continue;
        let size = parseFloat(getComputedStyle(element).fontSize);
        if (element instanceof SVGElement) size *= element.getScreenCTM().a;
        const box = element.getBoundingClientRect();
        const inside = box.left >= panel.left && box.right <= panel.right;
        texts.push([words, Math.round(size * 10) / 10, inside]);
    }
    return texts;
}"""


def test_chart_text_reads_at_a_phones_width_as_on_a_projector(
    live_server, open_page, demo_estate, viewer_account
):
    """The charts fill whatever width they are given; their labels and numbers do not shrink
    with them (the overview's at 390 px were drawn at 7 px), nor leave their panel."""
    providers = Asset.objects.filter(gone_at__isnull=True).values("provider").distinct().count()
    for size in (NARROW, PROJECTOR, WIDE):
        page = open_page(size)
        sign_in(page, live_server.url, "ciso")
        for path in ("/", "/?trend=90"):
            page.goto(f"{live_server.url}{path}")
            for chart in ("trend-chart", "exposure-chart"):
                texts = page.get_by_test_id(chart).evaluate(CHART_TEXT)
                assert len(texts) > 8, (chart, texts)
                small = [(words, px) for words, px, _ in texts if px < 11]
                assert small == [], (size, path, chart, small)
                outside = [words for words, _, inside in texts if not inside]
                assert outside == [], (size, path, chart, outside)
            # The numbers are printed, not only drawn: the last day's, and each provider's.
            assert page.get_by_test_id("trend-last").is_visible()
            numbers = page.get_by_test_id("exposure-chart").locator(".bar-numbers")
            assert numbers.count() == providers
            for index in range(providers):
                assert re.match(r"\d+\D* / \d+\D* \(\d+%\)", numbers.nth(index).inner_text())
            # Each part of a bar opens its list, from the keyboard too.
            part = page.get_by_test_id("exposure-chart").get_by_role(
                "link", name=re.compile(r"^AWS: \d+ exposed, tracked$")
            )
            assert part.evaluate("link => link.tabIndex") == 0  # in the Tab order


def test_signing_out_ends_the_session(live_server, open_page, demo_estate, viewer_account):
    page = open_page(WIDE)
    sign_in(page, live_server.url, "ciso")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    page.goto(f"{live_server.url}/teams/")
    assert "/accounts/login/?next=/teams/" in page.url


def test_narrow_screens_dark_theme_keyboard_and_no_javascript(
    live_server, open_page, demo_estate, viewer_account
):
    page = open_page(NARROW)
    sign_in(page, live_server.url, "ciso")
    # The page itself never scrolls sideways; wide tables scroll inside their own box.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "overview")
    exposed = Asset.objects.filter(gone_at__isnull=True, exposed=True, eol=True).first()
    page.goto(f"{live_server.url}{exposed.get_absolute_url()}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "asset")

    # The first Tab reaches the skip link, and it shows.
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert skip.is_visible() and skip.bounding_box()["y"] >= 0

    dark = open_page(WIDE, color_scheme="dark")
    sign_in(dark, live_server.url, "ciso")
    background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    screenshot(dark, "overview-dark")

    # Reading needs no JavaScript: sign in and read the overview with it switched off.
    plain = open_page(WIDE, java_script_enabled=False)
    sign_in(plain, live_server.url, "ciso")
    assert number(plain, "total-count") == Asset.objects.filter(gone_at__isnull=True).count()
