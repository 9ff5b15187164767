"""Saved views of the assets explorer: the current filters under a name, for oneself or shared
with everyone; listed, opened, replaced and deleted. Anyone signed in may keep their own."""

import html

import pytest
from django.test import Client

from dashboard.models import MAX_VIEWS_PER_USER, SavedView
from tests.conftest import make_user

from .helpers import HOSTILE_SCRIPT, page_of, queries_for

pytestmark = pytest.mark.django_db
URL = "/assets/"
SAVE = "/assets/views/"


def section(page: str, name: str) -> str:
    """The saved views listed under data-testid=name ("my-views" or "shared-views")."""
    marker = f'data-testid="{name}"'
    return page.split(marker)[1].split("</ul>")[0] if marker in page else ""


def test_a_viewer_saves_the_filters_on_screen_and_opens_them_again(client, viewer, estate):
    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    response = client.post(
        SAVE, {"name": "Exposed functions", "query": "kind=function&exposed=yes&sort=-severity"}
    )
    view = SavedView.objects.get()
    assert (view.owner, view.name, view.shared) == (viewer, "Exposed functions", False)
    assert view.query == "kind=function&exposed=yes&sort=-severity"
    assert response.status_code == 302 and response["Location"] == URL + "?" + view.query

    page = page_of(client.get(response["Location"]))
    assert "Saved the view “Exposed functions”." in page
    assert 'data-testid="current-view">· Exposed functions<' in page
    mine = section(page, "my-views")
    assert f'href="{html.escape(URL + "?" + view.query)}"' in mine
    assert 'aria-current="true"' in mine
    # elsewhere in the explorer the view is listed but not the current one
    other = page_of(client.get(URL + "?kind=function"))
    assert "Exposed functions" in section(other, "my-views")
    assert 'aria-current="true"' not in section(other, "my-views")


def test_only_filters_that_validate_are_saved_and_never_a_page_position(client, viewer):
    client.force_login(viewer)
    client.post(
        SAVE,
        {"name": "aws", "query": "?provider=aws&kind=bogus&after=abc&sort=name&count=exact&x=1"},
    )
    assert SavedView.objects.get().query == "provider=aws"


def test_saving_a_name_again_replaces_that_view(client, viewer):
    client.force_login(viewer)
    client.post(SAVE, {"name": "mine", "query": "provider=aws"})
    response = client.post(
        SAVE, {"name": "mine", "query": "provider=gcp", "shared": "on"}, follow=True
    )
    view = SavedView.objects.get()
    assert (view.query, view.shared) == ("provider=gcp", True)
    assert "Replaced the view “mine”." in page_of(response)


def test_shared_views_are_listed_for_everyone_private_ones_only_for_their_owner(client, viewer):
    other = make_user("alice", "reconciler")
    SavedView.objects.create(owner=other, name="Team-wide", query="tracking=untracked", shared=True)
    SavedView.objects.create(owner=other, name="Alice only", query="provider=aws")
    client.force_login(viewer)
    page = page_of(client.get(URL))
    shared = section(page, "shared-views")
    assert "Team-wide" in shared and "alice" in shared
    assert "Alice only" not in page
    assert section(page, "my-views") == ""
    assert 'aria-label="Delete the view' not in page  # nothing of theirs to delete


def test_owners_delete_their_views_and_nobody_else_can(client, viewer):
    other = make_user("alice", "admin")
    theirs = SavedView.objects.create(owner=other, name="Theirs", query="", shared=True)
    mine = SavedView.objects.create(owner=viewer, name="Mine", query="provider=aws")
    client.force_login(viewer)
    assert client.post(f"/assets/views/{theirs.pk}/delete/").status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()
    response = client.post(
        f"/assets/views/{mine.pk}/delete/", {"next": "/assets/?provider=aws"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/assets/?provider=aws"
    assert "Deleted the view “Mine”." in page_of(response)
    assert not SavedView.objects.filter(pk=mine.pk).exists()
    response = client.post(f"/assets/views/{theirs.pk}/delete/", {"next": "https://x.example/"})
    assert response.status_code == 404


def test_deleting_goes_back_only_to_this_site(client, viewer):
    mine = SavedView.objects.create(owner=viewer, name="Mine", query="")
    client.force_login(viewer)
    response = client.post(f"/assets/views/{mine.pk}/delete/", {"next": "https://x.example/"})
    assert response["Location"] == URL


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"name": "   ", "query": "provider=aws"}, "This field is required."),
        ({"name": "x" * 101, "query": ""}, "at most 100 characters"),
    ],
)
def test_a_view_that_does_not_validate_is_not_saved_and_says_why(client, viewer, data, problem):
    client.force_login(viewer)
    page = page_of(client.post(SAVE, data, follow=True))
    assert "The view was not saved" in page and problem in html.unescape(page)
    assert not SavedView.objects.exists()


def test_each_person_keeps_a_bounded_number_of_views(client, viewer):
    SavedView.objects.bulk_create(
        SavedView(owner=viewer, name=f"v{n}", query="") for n in range(MAX_VIEWS_PER_USER)
    )
    client.force_login(viewer)
    page = page_of(client.post(SAVE, {"name": "one more", "query": ""}, follow=True))
    assert f"Keep at most {MAX_VIEWS_PER_USER} views" in page
    client.post(SAVE, {"name": "v3", "query": "provider=aws"})  # replacing one is fine
    assert SavedView.objects.get(name="v3").query == "provider=aws"


def test_hostile_view_names_are_escaped_everywhere(client, viewer):
    other = make_user("mallory", "viewer")
    SavedView.objects.create(owner=other, name=HOSTILE_SCRIPT, query="provider=aws", shared=True)
    client.force_login(viewer)
    response = client.post(SAVE, {"name": HOSTILE_SCRIPT, "query": "provider=aws"}, follow=True)
    page = page_of(response)
    assert HOSTILE_SCRIPT not in page
    escaped = html.escape(HOSTILE_SCRIPT)
    assert page.count(escaped) >= 4  # message, heading, own list, shared list (+ labels)


def test_saving_needs_a_signed_in_user_and_the_csrf_token(client, viewer):
    response = client.post(SAVE, {"name": "x", "query": ""})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(viewer)
    assert strict.post(SAVE, {"name": "x", "query": ""}).status_code == 403
    assert client.get(SAVE).status_code in (302, 405)
    assert not SavedView.objects.exists()


def test_the_explorer_costs_the_same_queries_however_many_views_exist(client, viewer, estate):
    estate("prod", {"acct-a": 3})
    client.force_login(viewer)
    SavedView.objects.create(owner=viewer, name="one", query="")
    few = queries_for(client, URL)
    others = [make_user(f"user{n}", "viewer") for n in range(3)]
    SavedView.objects.bulk_create(
        SavedView(
            owner=owner, name=f"{owner.username}-{n}", query=f"provider=aws&n={n}", shared=True
        )
        for owner in [viewer, *others]
        for n in range(5)
    )
    assert queries_for(client, URL) == few
