"""Single sign-on in a real browser: Chromium clicks "Sign in with …", goes to a real OpenID
Connect provider on loopback and comes back signed in, with the role its groups map to."""

import pytest
from django.core.cache import cache

from tests.oidc_provider import Provider, configure, new_key

from .conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(live_server, settings, transactional_db):
    idp = Provider(new_key()).start()
    idp.redirect_uris.add(f"{live_server.url}/accounts/oidc/callback/")
    idp.post_logout_redirect_uris.add(f"{live_server.url}/accounts/login/")
    configure(settings, idp, role_groups={"secops": "reconciler"})
    yield idp
    idp.stop()
    cache.delete(f"oidc-discovery:{idp.issuer}")


def test_signing_in_with_the_provider_lands_where_the_person_was_going(
    live_server, open_page, provider
):
    provider.sign_in("00u-dana", preferred_username="dana", groups=["secops"])
    page = open_page()
    page.goto(f"{live_server.url}/reconcile/")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    button = page.get_by_role("link", name="Sign in with Example IdP")
    assert button.is_visible()
    assert page.get_by_label("User name").is_visible()  # the local form stays, for break-glass
    screenshot(page, "login-sso")

    button.click()
    page.wait_for_url(f"{live_server.url}/reconcile/")

    assert page.locator(".whoami .username").inner_text() == "dana"
    assert page.locator(".whoami .role").text_content() == "reconciler"
    assert page.get_by_role("heading", level=1).first.is_visible()
    calls = [(method, path) for method, path, _ in provider.requests]
    assert ("GET", "/authorize") in calls and ("POST", "/token") in calls
    assert ("GET", "/jwks") in calls  # the ID token's signature was checked against it


def test_someone_in_no_mapped_group_is_told_so_and_signs_out_at_the_provider_too(
    live_server, open_page, provider
):
    provider.sign_in("00u-erin", preferred_username="erin", groups=["marketing"])
    page = open_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Example IdP").click()
    page.wait_for_url(f"{live_server.url}/")

    notice = page.get_by_test_id("no-role")
    assert "signed in as erin" in notice.inner_text()
    assert page.locator("nav").count() == 0  # nothing to read, not even the navigation
    screenshot(page, "sso-no-role")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert [claims["sub"] for claims in provider.ended_sessions] == ["00u-erin"]
    page.get_by_role("link", name="Sign in with Example IdP").click()  # the provider asks again
    assert "login_required" in page.content()
