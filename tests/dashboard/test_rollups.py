"""Estate-wide figures carried over a decision: the next view adjusts the cached figures by the
decided assets instead of counting the estate again, and shows what a count would. And kept
warm by beat between collections: counted again before they expire, by no page view."""

import logging

import pytest
from django.core.cache import cache
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from inventory import selectors, services, tasks
from inventory.models import Asset, Team

from .helpers import page_of, queries_for, text_of
from .test_views import image_count

pytestmark = pytest.mark.django_db


def figures():
    """The whole estate's figures as the overview, its trends and the teams page read them."""
    overview = selectors.overview()
    untracked = overview["totals"]["untracked"]
    return {
        **{name: overview[name] for name in ("totals", "kinds", "matrix", "matrix_totals")},
        "lifecycle": overview["lifecycle"],
        "trends": [
            selectors.untracked_trend(days, untracked, overview["stamp"])
            for days in selectors.TREND_DAYS
        ],
        "teams": selectors.team_figures(),
        "per_scope": selectors.live_assets_per_scope(),
    }


def counted():
    cache.clear()
    return figures()


def fn(account, index):
    return Asset.objects.get(key=f"fn://{account}/{index}")


# In the estate every odd function is untracked, every third exposed, the rest belong to
# Payments by its tag rule.
DECISIONS = {
    "assign an exposed untracked asset": lambda actor, payments, data: services.assign_owner(
        [fn("acct-a", 3)], data, actor
    ),
    "accept the risk of two": lambda actor, payments, data: services.accept_risk(
        [fn("acct-a", 1), fn("acct-b", 3)], actor, "known batch job", team=payments
    ),
    "move a tracked asset to another team": lambda actor, payments, data: services.assign_owner(
        [fn("acct-b", 0)], data, actor
    ),
    "assign, then clear the decision": lambda actor, payments, data: (
        services.assign_owner([fn("acct-a", 5)], payments, actor),
        services.clear_decision([fn("acct-a", 5)], actor),
    ),
    "assign what payments already owns": lambda actor, payments, data: services.assign_owner(
        [fn("acct-a", 2)], payments, actor
    ),
}


@pytest.mark.parametrize("decision", DECISIONS)
def test_figures_carried_over_a_decision_are_what_a_count_gives(
    client, viewer, reconciler, estate, payments, django_capture_on_commit_callbacks, decision
):
    estate("prod", {"acct-a": 8, "acct-b": 4})
    data = Team.objects.create(name="Data", slug="data")
    client.force_login(viewer)
    selectors.warm_rollups()
    warm = {url: queries_for(client, url) for url in ("/", "/?trend=90", "/teams/")}
    with django_capture_on_commit_callbacks(execute=True):
        DECISIONS[decision](reconciler, payments, data)

    for url, queries in warm.items():  # nothing counted afresh
        assert queries_for(client, url) == queries, url
    carried = figures()
    assert carried == counted()


def test_a_decision_about_an_asset_that_came_back_recounts_the_trends(
    client, viewer, reconciler, estate, payments, django_capture_on_commit_callbacks
):
    estate("prod", {"acct-a": 8})
    estate("prod", {"acct-a": 6}, release=2)  # fn 6 and 7 go
    estate("prod", {"acct-a": 8}, release=3)  # and come back: their history says so
    client.force_login(viewer)
    selectors.warm_rollups()
    warm = {url: queries_for(client, url) for url in ("/", "/teams/")}

    with django_capture_on_commit_callbacks(execute=True):
        services.assign_owner([fn("acct-a", 7)], payments, reconciler)

    assert queries_for(client, "/") > warm["/"]  # the trend is counted again: its past moved
    assert queries_for(client, "/teams/") == warm["/teams/"]
    carried = figures()
    assert carried == counted()


def test_a_decision_about_a_gone_asset_changes_no_live_figure(
    client, viewer, reconciler, estate, payments, django_capture_on_commit_callbacks
):
    estate("prod", {"acct-a": 8})
    estate("prod", {"acct-a": 6}, release=2)  # fn 6 and 7 go
    selectors.warm_rollups()
    before = figures()

    with django_capture_on_commit_callbacks(execute=True):
        services.assign_owner([fn("acct-a", 7)], payments, reconciler)

    carried = figures()
    assert carried["totals"] == before["totals"] and carried["teams"] == before["teams"]
    assert carried == counted()


def test_figures_are_not_carried_past_another_write(
    client, viewer, reconciler, estate, payments, django_capture_on_commit_callbacks, monkeypatch
):
    """A write the stamp sees coming in while a decision is made (here a collection finishing,
    as another process would, between the decision's first read of the stamp and its last)
    means the cached figures no longer add up: the next view counts."""
    estate("prod", {"acct-a": 8})
    client.force_login(viewer)
    selectors.warm_rollups()
    warm = queries_for(client, "/")
    stamps = []

    def stamp_then_collect():
        stamps.append(selectors.data_stamp())
        if len(stamps) == 1:
            estate("prod", {"acct-a": 10}, release=2)
        return stamps[-1]

    monkeypatch.setattr(services, "data_stamp", stamp_then_collect)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.assign_owner([fn("acct-a", 3)], payments, reconciler)

    assert len(stamps) == 2 and not callbacks
    assert queries_for(client, "/") > warm
    assert figures() == counted()


# --- counted again by beat ----------------------------------------------------------------------

PAGES = ("/", "/teams/", "/versions/", "/reconcile/")


def test_beat_counts_again_what_a_write_no_stamp_sees_changed_and_no_page_pays(
    client, viewer, estate
):
    """Writes no data stamp sees (the nightly re-evaluation ends an end-of-life finding: no
    history, no new row) leave the cached figures as they were until they expire; the
    periodic job counts them again first, so the pages show the new figures as warm views."""
    estate("prod", {"acct-a": 8})
    client.force_login(viewer)
    selectors.warm_rollups()
    warm = {url: queries_for(client, url) for url in PAGES}
    eol_before = Asset.objects.filter(gone_at__isnull=True, eol=True).count()
    stamp = selectors.data_stamp()

    Asset.objects.filter(eol=True).update(eol=False)
    Asset.objects.filter(key__in=["fn://acct-a/1", "fn://acct-a/2"]).update(image="nginx:1.27")
    assert selectors.data_stamp() == stamp
    assert text_of(page_of(client.get("/")), "eol-count") == str(eol_before) != "0"
    assert image_count(page_of(client.get("/versions/"))) == "8"

    assert tasks.warm_rollups() == stamp
    for url in PAGES:  # every figure was in the cache: no page counted
        assert queries_for(client, url) == warm[url], url
    assert text_of(page_of(client.get("/")), "eol-count") == "0"
    assert image_count(page_of(client.get("/versions/"))) == "6"
    assert figures() == counted()


def test_beat_counting_an_empty_estate_is_cheap_and_leaves_the_overview_warm(
    client, viewer, django_assert_max_num_queries
):
    """Nothing collected yet: each figure is one grouped count over empty tables (and the
    overview's collection health, as a page reads it), a few milliseconds every run."""
    client.force_login(viewer)
    with django_assert_max_num_queries(25):
        tasks.warm_rollups()
    warm = queries_for(client, "/")
    assert queries_for(client, "/") == warm
    assert text_of(page_of(client.get("/")), "total-count") == "0"


@pytest.mark.parametrize(
    "failure",
    [OperationalError("the database is restarting"), RedisConnectionError("no cache")],
    ids=["database", "cache"],
)
def test_beat_counting_that_fails_is_logged_not_raised(estate, monkeypatch, caplog, failure):
    estate("prod", {"acct-a": 4})

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(selectors, "_estate_figures", fail)
    with caplog.at_level(logging.WARNING, logger="inventory.tasks"):
        assert tasks.warm_rollups() is None
    assert "not counted again" in caplog.text and str(failure) in caplog.text
    monkeypatch.undo()
    assert tasks.warm_rollups() == selectors.data_stamp()  # the next run counts as ever
