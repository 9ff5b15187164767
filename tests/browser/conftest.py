"""Headless Chromium against a live Daylight server holding the demo estate.

Debian's Chromium is driven through Playwright's sync API; Playwright's own browser downloads are
never used. Screenshots of every page land in test-artifacts/screenshots/ for people to look at.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import sync_playwright

from collectors.runner import run_source
from inventory.models import OwnershipRule, Source, Team
from inventory.roles import ADMIN, RECONCILER, VIEWER
from tests.conftest import make_user

CHROMIUM = os.environ.get("DAYLIGHT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"
WIDE, FULL_HD, NARROW = (1440, 900), (1920, 1080), (390, 844)
PROJECTOR = (1280, 720)  # a laptop mirrored to a meeting room's projector
DEMO_TEAMS = ("payments", "platform", "data-science", "identity", "marketing")


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, for the tests of one module.

    While Playwright's sync API is running it keeps an event loop in this thread, and Django then
    refuses ORM calls from the test body ("You cannot call this from an async context"). The test
    body and the live server's thread never share a connection, so the check is lifted, and only
    for as long as Playwright runs.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y chromium, or deselect with -m 'not browser'"
        )
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium):
    """A factory: a fresh browser context (own cookies) and page at ``size``; every dialog the
    page raises is recorded in ``page.dialogs`` and dismissed."""
    contexts = []

    def make(size=WIDE, **options):
        context = chromium.new_context(viewport={"width": size[0], "height": size[1]}, **options)
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []

        def on_dialog(dialog):
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name):
    """A full-page screenshot named after the page and the viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.screenshot(
        path=SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png", full_page=True
    )


def sign_in(page, base_url, username, password=PASSWORD):
    page.goto(f"{base_url}/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def demo_estate(transactional_db):
    """The demo estate collected by the real demo collector on three days: sixteen days ago,
    two days ago and now, so it has history, comings and goings. The demo teams own what
    carries their tag. Cached estate-wide figures from an earlier test are dropped: a flushed
    database reuses the ids their keys are made of."""
    cache.clear()
    for slug in DEMO_TEAMS:
        team = Team.objects.create(
            name=slug.replace("-", " ").title(), slug=slug, contact=f"#{slug}-oncall"
        )
        OwnershipRule.objects.create(
            name=f"team tag {slug}", team=team, tag_key="team", tag_value=slug
        )
    now = timezone.now()
    source = Source.objects.create(
        name="demo",
        provider="demo",
        config={"seed": 7, "scale": 1, "epoch": (now - timedelta(days=90)).date().isoformat()},
    )
    for days_ago in (16, 2):
        run_source(source, at=now - timedelta(days=days_ago))
    run_source(source)
    return source


@pytest.fixture
def viewer_account(transactional_db):
    return make_user("ciso", VIEWER)


@pytest.fixture
def reconciler_account(transactional_db):
    return make_user("itstaff", RECONCILER)


@pytest.fixture
def admin_account(transactional_db):
    return make_user("ops", ADMIN)
