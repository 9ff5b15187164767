"""The dashboard pages: sign-in, roles, what the overview says, query budgets, escaping."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from inventory.models import Asset, RunStatus, Scope, TrackingStatus
from tests.conftest import NOW, make_user

from .helpers import (
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    ODD_UNICODE,
    PAGE_BUDGET,
    PASSWORD,
    ingest_hostile_asset,
    page_of,
    queries_for,
    text_of,
)

pytestmark = pytest.mark.django_db


# --- sign-in and roles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/", "/assets/1/", "/teams/", "/teams/payments/", "/teams/none/"],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_login_page_is_public_and_labels_its_fields(client):
    page = page_of(client.get(reverse("login")))
    assert '<label for="id_username">' in page
    assert '<label for="id_password">' in page
    assert 'autocomplete="current-password"' in page


def test_signing_in_and_out_through_the_forms(client, viewer):
    response = client.post(
        reverse("login"), {"username": "ciso", "password": PASSWORD, "next": "/teams/"}
    )
    assert response.status_code == 302 and response["Location"] == "/teams/"
    assert client.get("/teams/").status_code == 200

    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_with_an_alert(client, viewer):
    page = page_of(client.post(reverse("login"), {"username": "ciso", "password": "nope"}))
    assert 'role="alert"' in page
    assert 'aria-invalid="true"' in page
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("role", "administers"),
    [("viewer", False), ("reconciler", False), ("admin", True)],
)
def test_every_role_sees_the_overview_and_only_admins_the_administration(client, role, administers):
    client.force_login(make_user(f"user-{role}", role))
    page = page_of(client.get("/"))
    assert "<h1>Overview</h1>" in page
    assert f'<span class="role role-{role}">{role}</span>' in page
    assert 'aria-current="page"' in page
    assert (reverse("admin:index") in page) is administers
    assert ("Administration" in page) is administers
    assert (reverse("admin:inventory_apitoken_changelist") in page) is administers


def test_a_user_without_a_role_reads_nothing_and_is_told_so(client, estate):
    estate("prod", {"acct-a": 2})
    client.force_login(make_user("nobody", None))
    for url in ("/", "/assets/", "/reconcile/", "/audit/", "/teams/", "/teams/none/"):
        response = client.get(url)
        assert response.status_code == 403, url
        page = response.content.decode()
        assert 'data-testid="no-role"' in page and "fn-0001" not in page
    assert client.post(reverse("logout")).status_code == 302


def test_a_refused_page_and_a_missing_one_keep_the_navigation_and_say_why(client, viewer):
    client.force_login(viewer)
    refused = client.get(reverse("dashboard:notifications"))
    assert refused.status_code == 403
    page = refused.content.decode()
    assert 'data-testid="forbidden"' in page and "This needs the admin role." in page
    assert 'aria-label="Main"' in page and '<span class="role role-viewer">viewer</span>' in page
    missing = client.get("/assets/999999999/")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert 'data-testid="not-found"' in page and 'aria-label="Main"' in page


# --- the overview ---------------------------------------------------------------------------


def test_overview_counts_match_the_estate(client, viewer, estate):
    estate("prod", {"acct-a": 8, "acct-b": 4})
    client.force_login(viewer)
    page = page_of(client.get("/"))

    live = Asset.objects.filter(gone_at__isnull=True)
    assert int(text_of(page, "total-count")) == live.count() == 14
    untracked = live.filter(tracking=TrackingStatus.UNTRACKED).count()
    assert int(text_of(page, "untracked-count")) == untracked == 6
    assert int(text_of(page, "exposed-count")) == live.filter(exposed=True).count() == 5
    assert int(text_of(page, "eol-count")) == live.filter(eol=True).count() == 5
    assert text_of(page, "coverage") == str(round(100 * 8 / 14))  # tracked share, in %
    assert f'href="{reverse("dashboard:teams")}" title="Who owns what, team by team"' in page

    matrix = page.split('data-testid="provider-kind"')[1].split("</table>")[0]
    aws_row = matrix.split('data-provider="aws"')[1].split("</tr>")[0]
    assert re.findall(r'<a class="figure" href="([^"]+)">(\d+)</a>', aws_row)[:1] == [
        ("/assets/?provider=aws&amp;kind=function", "12")
    ]
    assert "Kubernetes" in matrix and "Function" in matrix and "Cluster" in matrix


def test_overview_says_not_collected_and_shows_the_error_of_a_failed_scope(client, viewer, estate):
    estate("prod", {"acct-a": 3, "acct-b": 3}, at=NOW - timedelta(days=1))
    estate("prod", {"acct-a": 3, "acct-b": 3}, release=2, fail=["acct-b"])
    estate("new-account", {"acct-c": 2}, fail=["acct-c"])
    client.force_login(viewer)
    page = page_of(client.get("/"))

    health = page.split('data-testid="collection-health"')[1].split("</table>")[0]
    failed_row = health.split('data-scope="acct-b"')[1].split("</tr>")[0]
    assert "Failed" in failed_row
    assert "AccessDenied (simulated)" in failed_row
    last_success = Scope.objects.get(key="acct-b").last_success_at
    assert last_success < NOW - timedelta(hours=12)  # from the run the day before
    assert f'datetime="{last_success.isoformat()}"' in failed_row

    never_row = health.split('data-scope="acct-c"')[1].split("</tr>")[0]
    assert "Not collected" in never_row
    assert "AccessDenied (simulated)" in never_row

    assert Scope.objects.get(key="acct-a").last_status == RunStatus.SUCCEEDED
    assert "Collected" in health.split('data-scope="acct-a"')[1].split("</tr>")[0]
    assert "2 scopes not collected" in page  # the freshness note in the navigation
    assert 'role="status"' in page  # and the notice above the figures

    runs = page.split('data-testid="recent-runs"')[1].split("</table>")[0]
    assert runs.count("<tr>") == 1 + 3  # header and three runs
    assert "Partially failed" in runs


def test_overview_of_an_empty_installation_says_so(client, viewer):
    client.force_login(viewer)
    page = page_of(client.get("/"))
    assert "No assets yet" in page
    assert "No sources yet" in page
    assert "Nothing collected yet" in page


# --- query budgets --------------------------------------------------------------------------


def test_overview_queries_do_not_grow_with_the_estate(
    client, viewer, estate, django_assert_max_num_queries
):
    client.force_login(viewer)
    estate("small", {"acct-0": 2})
    small = queries_for(client, "/")
    assert small <= PAGE_BUDGET

    for number in range(4):
        estate(f"big-{number}", {f"acct-{number}-{s}": 30 for s in range(5)}, fail=["acct-0-1"])
    with django_assert_max_num_queries(small):
        page = page_of(client.get("/"))
    # 19 full scopes of a cluster and 30 functions; the failing one got only two records in
    assert int(text_of(page, "total-count")) == Asset.objects.count() == 3 + 19 * 31 + 2


def test_asset_page_queries_do_not_grow_with_its_history(
    client, viewer, estate, django_assert_max_num_queries
):
    client.force_login(viewer)
    estate("prod", {"lonely": 1, "busy": 40})
    # (a cluster's page counts what runs on it too: one query more than a function's)
    lonely = {
        "fn": Asset.objects.get(key="fn://lonely/0"),
        "cluster": Asset.objects.get(key="cluster://lonely"),
    }
    small = {kind: queries_for(client, a.get_absolute_url()) for kind, a in lonely.items()}
    assert small["cluster"] == small["fn"] + 1
    assert max(small.values()) <= PAGE_BUDGET

    for release in range(2, 8):  # six more releases: history, events and findings pile up
        estate("prod", {"lonely": 1, "busy": 40}, release=release)
    cluster = Asset.objects.get(key="cluster://busy")
    busy = Asset.objects.get(key="fn://busy/0")
    assert busy.changes.count() >= 7 and busy.events.count() == 7
    for asset_, budget in ((busy, small["fn"]), (cluster, small["cluster"])):
        with django_assert_max_num_queries(budget):
            page = page_of(client.get(asset_.get_absolute_url()))
    assert page.count("fn-00") >= 40  # the cluster page lists its forty functions


def test_team_pages_queries_do_not_grow_with_the_team(
    client, viewer, estate, payments, django_assert_max_num_queries
):
    client.force_login(viewer)
    estate("prod", {"acct-a": 2})
    small_team = queries_for(client, payments.get_absolute_url())
    small_list = queries_for(client, reverse("dashboard:teams"))
    assert max(small_team, small_list) <= PAGE_BUDGET

    estate("prod", {"acct-a": 2, **{f"acct-{n}": 25 for n in range(4)}})
    with django_assert_max_num_queries(small_team):
        team_page = page_of(client.get(payments.get_absolute_url()))
    with django_assert_max_num_queries(small_list):
        list_page = page_of(client.get(reverse("dashboard:teams")))
    owned = Asset.objects.filter(owner=payments, gone_at__isnull=True).count()
    assert owned == 2 + 4 * 14  # clusters and every second function
    # the first fifty by name, and the way to all of them
    names = re.findall(r'<th scope="row"><a href="/assets/\d+/">([^<]+)</a>', team_page)
    expected = Asset.objects.filter(owner=payments, gone_at__isnull=True).order_by("name", "id")
    assert names == [a.name for a in expected[:50]]
    assert f'href="/assets/?owner=payments" data-testid="team-all-assets">All {owned}' in team_page
    assert f'<a class="figure" href="/assets/?owner=payments">{owned}</a>' in list_page


def test_the_unowned_page_costs_the_same_whatever_nobody_owns(
    client, viewer, estate, django_assert_num_queries
):
    client.force_login(viewer)
    estate("prod", {"acct-a": 2})
    small = queries_for(client, reverse("dashboard:unowned"))
    assert small <= PAGE_BUDGET

    estate("prod", {"acct-a": 2, **{f"acct-{n}": 25 for n in range(5)}})
    with django_assert_num_queries(small):
        page = page_of(client.get(reverse("dashboard:unowned")))
    unowned = Asset.objects.filter(owner=None, gone_at=None).order_by("name", "id")
    assert unowned.count() == 1 + 5 * 12  # every odd function
    # the first fifty by name, and the way to all of them
    names = re.findall(r'<th scope="row"><a href="/assets/\d+/">([^<]+)</a>', page)
    assert names == [a.name for a in unowned[:50]]
    assert 'href="/assets/?owner=none" data-testid="team-all-assets">All 61 in the' in page


# --- asset and team pages -------------------------------------------------------------------


def test_asset_page_escapes_names_tags_and_event_fields(client, viewer, scope_run):
    hostile = ingest_hostile_asset(scope_run)
    client.force_login(viewer)
    page = page_of(client.get(hostile.get_absolute_url()))

    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<b>1.2.3.4" not in page and "<i>ok" not in page
    assert html.escape(HOSTILE_SCRIPT) in page  # the name, the tag value and the event actor
    assert page.count(html.escape(HOSTILE_SCRIPT)) >= 4  # title, heading, tag, actor
    assert html.escape(HOSTILE_IMG) in page  # tag key, namespace, creator, event action
    assert page.count(html.escape(HOSTILE_IMG)) >= 4
    assert "&lt;b&gt;1.2.3.4&lt;/b&gt;" in page
    assert ODD_UNICODE in page  # odd text is shown as it is, not mangled
    assert "before\ufffdafter" in page  # what the database could not hold, visibly replaced
    assert "a tag named like a dict method" in page  # a tag called "items" is just a tag


def test_asset_page_explains_why_it_is_flagged(client, viewer, estate):
    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    flagged = Asset.objects.get(key="fn://acct-a/3")  # odd index: no owner tag; 3: open URL
    page = page_of(client.get(flagged.get_absolute_url()))
    flags = page.split('data-testid="asset-flags"')[1].split("</div>")[0]
    assert "marker-untracked" in flags and "Untracked" in flags and "#i-untracked" in flags
    assert "marker-exposed" in flags
    assert "No ownership rule matches it" in page
    assert "Unauthenticated internet endpoint" in page

    owned = Asset.objects.get(key="fn://acct-a/2")
    page = page_of(client.get(owned.get_absolute_url()))
    assert "marker-untracked" not in page.split('data-testid="asset-flags"')[1].split("</div>")[0]
    assert 'href="/teams/payments/">Payments</a>' in page
    assert "Ownership rule “payments tag”" in page


def test_missing_asset_and_team_are_not_found(client, viewer):
    client.force_login(viewer)
    assert client.get("/assets/999999/").status_code == 404
    assert client.get("/teams/nobody/").status_code == 404


def test_team_page_lists_what_the_team_owns(client, viewer, estate, payments):
    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    page = page_of(client.get(payments.get_absolute_url()))
    names = re.findall(r'<th scope="row"><a href="/assets/\d+/">([^<]+)</a>', page)
    assert sorted(names) == ["cluster-acct-a", "fn-0000", "fn-0002"]
    assert "marker-exposed" in page and "marker-eol" in page


def test_team_page_names_its_members_escaped(client, viewer, admin_user, payments):
    from tests.conftest import make_user

    client.force_login(viewer)
    assert "nobody yet" in text_of_members(page_of(client.get(payments.get_absolute_url())))
    alice = make_user("alice", "reconciler")
    alice.first_name, alice.last_name = "Alice", "<b>Liddell</b>"
    alice.save()
    payments.members.add(alice, make_user("bob", "viewer"))
    page = page_of(client.get(payments.get_absolute_url()))
    members = text_of_members(page)
    assert "Alice &lt;b&gt;Liddell&lt;/b&gt;" in members and ">bob<" in members
    assert "Edit members" not in page  # only admins edit teams
    client.force_login(admin_user)
    page = page_of(client.get(payments.get_absolute_url()))
    assert f'href="/admin/inventory/team/{payments.pk}/change/">Edit members' in page


def text_of_members(page: str) -> str:
    return page.split('data-testid="team-members"')[1].split("</p>")[0]


def row_numbers(row: str) -> list[str]:
    """The numbers of a table row's numeric cells, links or not."""
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', row)
    return [re.sub(r"<[^>]+>", "", cell) for cell in cells]


def test_team_list_counts_each_team_and_what_nobody_owns(client, viewer, estate, payments):
    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    page = page_of(client.get(reverse("dashboard:teams")))
    header = page.split('data-testid="teams"')[1].split("</thead>")[0]
    assert ">Function</th>" in header and ">Cluster</th>" in header
    row = page.split('data-team="payments"')[1].split("</tr>")[0]
    # assets, functions, clusters, exposed (fn-0000), EOL (fn-0000's node 14 and the cluster's
    # Kubernetes), with findings, accepted
    with_findings = Asset.objects.filter(owner=payments, max_severity__isnull=False).count()
    assert row_numbers(row) == ["3", "2", "1", "1", "2", str(with_findings), "0"]
    assert 'href="/assets/?owner=payments&amp;kind=function">2</a>' in row
    unowned = page.split('data-team="none"')[1].split("</tr>")[0]
    assert row_numbers(unowned)[:4] == ["2", "2", "0", "1"]  # fn 1 and 3; fn 3 is exposed
    assert 'href="/assets/?owner=none">2</a>' in unowned
    assert "2</strong> live assets have no accountable team" in page


def test_the_teams_list_links_its_unowned_row_to_the_unowned_page(client, viewer, estate):
    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    assert reverse("dashboard:unowned") == "/teams/none/"
    teams = page_of(client.get(reverse("dashboard:teams")))
    row = teams.split('data-team="none"')[1].split("</tr>")[0]
    assert '<th scope="row" class="nowrap"><a class="unowned-link" href="/teams/none/">' in row

    page = page_of(client.get("/teams/none/"))
    assert "<title>Unowned" in page and '<h1 data-testid="team-name">Unowned</h1>' in page
    assert '<a href="/teams/">Teams</a>' in page.split('aria-label="Breadcrumb"')[1]
    names = re.findall(r'<th scope="row"><a href="/assets/\d+/">([^<]+)</a>', page)
    assert names == ["fn-0001", "fn-0003"]
    assert "marker-untracked" in page.split('data-testid="team-assets"')[1]
    assert 'data-testid="team-members"' not in page  # nobody to name


# The unowned page's figures: each opens the explorer on owner=none and the figure's filter.
UNOWNED_FIGURES = {
    "team-total": "/assets/?owner=none",
    "team-exposed": "/assets/?owner=none&exposed=yes",
    "team-eol": "/assets/?owner=none&eol=yes",
    "team-accepted": "/assets/?owner=none&tracking=accepted",
    "team-findings": "/assets/?owner=none&min_severity=0",
}


def figure_link(page: str, name: str) -> tuple[str, int]:
    match = re.search(rf'<a href="([^"]+)" data-testid="{name}">([\d,]+)</a>', page)
    assert match, f"no figure {name}"
    return html.unescape(match.group(1)), int(match.group(2).replace(",", ""))


def test_every_unowned_figure_opens_the_explorer_on_as_many_assets(
    client, viewer, reconciler, admin_user, estate
):
    from inventory import services

    estate("prod", {"acct-a": 8})  # fn 1, 3, 5 and 7 are nobody's; fn 3 is exposed
    services.accept_risk([Asset.objects.get(key="fn://acct-a/5")], admin_user, "lab box")
    client.force_login(viewer)
    page = page_of(client.get(reverse("dashboard:unowned")))
    live = Asset.objects.filter(owner=None, gone_at=None)
    expected = {
        "team-total": 4,
        "team-exposed": 1,
        "team-eol": 0,
        "team-accepted": 1,
        "team-findings": live.filter(max_severity__gte=0).count(),
    }
    teams = page_of(client.get(reverse("dashboard:teams")))
    row = row_numbers(teams.split('data-team="none"')[1].split("</tr>")[0])
    for name, url in UNOWNED_FIGURES.items():
        href, count = figure_link(page, name)
        assert (href, count) == (url, expected[name]), name
        listed = text_of(page_of(client.get(href)), "result-count")
        assert listed == f"{count} asset{'' if count == 1 else 's'}", name
    # the Teams list's row says the same: assets, (kinds,) exposed, EOL, findings, accepted
    order = ("team-total", "team-exposed", "team-eol", "team-findings", "team-accepted")
    assert [row[0], *row[-4:]] == [str(expected[name]) for name in order]
    assert '<a href="/assets/?owner=none&amp;kind=function">4 function</a>' in page  # by kind

    # Nobody is accountable; the untracked ones wait in the queue, which lists as many.
    assert text_of(page, "nobody-accountable").startswith("Nobody is accountable")
    queue = page.split('data-testid="unowned-queue"')[1].split("</p>")[0]
    assert '<a href="/reconcile/"><strong>3</strong> untracked assets wait in the' in queue
    assert "claim it for yours" not in queue  # a viewer reads the queue, decides nothing
    reconcile = page_of(client.get(reverse("dashboard:reconcile")))
    assert text_of(reconcile, "queue-count") == "3 assets without an owner"
    client.force_login(reconciler)
    queue = page_of(client.get(reverse("dashboard:unowned"))).split('"unowned-queue"')[1]
    assert "claim it for yours" in queue.split("</p>")[0]


def test_the_unowned_page_says_when_nothing_waits(client, viewer, estate, admin_user):
    from inventory import services

    estate("prod", {"acct-a": 2})
    services.accept_risk([Asset.objects.get(key="fn://acct-a/1")], admin_user, "known")
    client.force_login(viewer)
    page = page_of(client.get(reverse("dashboard:unowned")))
    queue = page.split('data-testid="unowned-queue"')[1].split("</p>")[0]
    assert 'Nothing waits in the <a href="/reconcile/">Reconcile queue</a>' in queue
    assert "accepted for no team" in text_of(page, "nobody-accountable")
    assert figure_link(page, "team-accepted") == ("/assets/?owner=none&tracking=accepted", 1)


def test_the_unowned_page_escapes_what_clouds_name(client, viewer, scope_run):
    hostile = ingest_hostile_asset(scope_run)
    assert hostile.owner is None
    client.force_login(viewer)
    page = page_of(client.get(reverse("dashboard:unowned")))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert f'">{html.escape(HOSTILE_SCRIPT)}</a></th>' in page  # the name
    assert html.escape(HOSTILE_IMG) in page  # the namespace


def test_the_asset_timeline_merges_changes_and_access_events_newest_first(client, viewer, estate):
    estate("prod", {"acct-a": 4}, at=NOW - timedelta(days=2))
    estate("prod", {"acct-a": 4}, release=2)
    client.force_login(viewer)
    target = Asset.objects.get(key="fn://acct-a/3")
    page = page_of(client.get(target.get_absolute_url()))
    table = page.split('data-testid="timeline"')[1].split("</table>")[0]
    rows = re.findall(
        r'<tr class="timeline-\w+" data-kind="(\w+)".*?datetime="([^"]+)"', table, re.S
    )
    kinds = [kind for kind, _ in rows]
    times = [moment for _, moment in rows]
    assert times == sorted(times, reverse=True)
    assert kinds.count("event") == target.events.count() == 2
    assert kinds.count("change") == target.changes.count()
    # the deploy three minutes before the first collection comes before its discovery
    assert kinds[-2:] == ["change", "event"] and "discovered" in table
    assert "Image" in table and "registry.internal.example/fn:2" in table
    assert 'href="/access/?actor=deployer-3%40example.com"' in table


def test_cached_figures_follow_decisions_and_collections(client, viewer, estate, payments):
    from inventory import services

    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    assert text_of(page_of(client.get("/")), "untracked-count") == "2"
    assert text_of(page_of(client.get("/")), "untracked-count") == "2"  # now from the cache

    target = Asset.objects.get(key="fn://acct-a/1")
    services.assign_owner([target], payments, viewer)  # an audited decision
    page = page_of(client.get("/"))
    assert text_of(page, "untracked-count") == "1"
    teams = page_of(client.get(reverse("dashboard:teams")))
    assert 'href="/assets/?owner=payments">4</a>' in teams

    estate("prod", {"acct-a": 8}, release=2)  # a collection: fn 5 and 7 are new, untracked
    assert text_of(page_of(client.get("/")), "untracked-count") == "3"


def test_decisions_leave_the_cached_versions_alone_collections_do_not(
    client, viewer, estate, payments
):
    from inventory import services

    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    cold = queries_for(client, "/versions/")
    warm = queries_for(client, "/versions/")
    assert warm < cold
    assert image_count(page_of(client.get("/versions/"))) == "4"
    services.assign_owner([Asset.objects.get(key="fn://acct-a/1")], payments, viewer)
    assert queries_for(client, "/versions/") == warm  # what runs where did not change
    estate("prod", {"acct-a": 6}, release=2)
    assert image_count(page_of(client.get("/versions/"))) == "6"


def image_count(page: str) -> str:
    """How many live assets run the estate's one function image, as the versions page says."""
    row = page.split('data-repository="registry.internal.example/fn"')[1].split("</tr>")[0]
    return re.sub(r"<[^>]+>", "", re.search(r'<td class="num">(.*?)</td>', row).group(1)).strip()


def test_warming_the_rollups_spares_the_next_page_view_its_counting(client, viewer, estate):
    from inventory.selectors import warm_rollups

    estate("prod", {"acct-a": 4})
    client.force_login(viewer)
    cold = queries_for(client, "/")
    warm = queries_for(client, "/")
    assert warm < cold  # the second view reads the figures from the cache

    estate("prod", {"acct-a": 6}, release=2)  # new data: a new stamp, nothing cached for it
    warm_rollups()
    assert queries_for(client, "/") == warm
    for url in ("/teams/", "/versions/"):
        assert queries_for(client, url) == queries_for(client, url)
    assert text_of(page_of(client.get("/")), "total-count") == "7"


def test_the_overview_names_accounts_no_source_collects(client, viewer, scope_run):
    from inventory.ingest import ScopeIngest
    from tests.conftest import asset

    ingest = ScopeIngest(scope_run("org"))
    for number in ("111111111111", "333333333333"):
        ingest.add(
            asset(f"account:{number}", kind="account", name=f"acct-{number}", account=number)
        )
    ingest.finish(complete=True)
    Scope.objects.filter(key="org").update(account="111111111111")  # the one a source reads
    client.force_login(viewer)
    page = page_of(client.get("/"))
    notice = page.split('data-testid="uncovered"')[1].split("</div>")[0]
    assert "1 account exists that no source collects" in notice
    shadow = Asset.objects.get(account="333333333333")
    assert f'<a href="/assets/{shadow.pk}/">acct-333333333333</a>' in notice
    assert "acct-111111111111" not in notice
    from inventory.coverage import uncovered_accounts

    assert list(uncovered_accounts()) == [shadow]  # the same verdict as inventory.coverage


def test_a_collection_task_leaves_the_figures_warm(client, viewer):
    from collectors.tasks import collect_source
    from inventory.models import Source

    demo = Source.objects.create(name="demo", provider="demo", config={"seed": 2})
    client.force_login(viewer)
    cold = queries_for(client, "/")  # nothing collected yet: this counts and caches
    assert collect_source(demo.pk) is not None
    after_task = queries_for(client, "/")
    assert after_task == queries_for(client, "/") < cold + 1
    assert (
        int(text_of(page_of(client.get("/")), "total-count"))
        == Asset.objects.filter(gone_at__isnull=True).count()
        > 0
    )
