"""Charts: the untracked series rebuilt from history, the geometry, and the overview drawing them
with their numbers in sight and every segment leading to its list."""

import html
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from dashboard.charts import nice_ceiling, stacked_bars, trend
from inventory import services
from inventory.models import Asset
from inventory.selectors import untracked_series

from .helpers import page_of, text_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (21, 25), (90, 100), (101, 200)]
)
def test_axes_end_on_a_round_number(value, top):
    assert nice_ceiling(value) == top


def test_trend_geometry_keeps_values_in_the_plot_and_labels_both_ends():
    series = [(date(2026, 11, 1) + timedelta(days=n), v) for n, v in enumerate([4, 9, 7, 12])]
    chart = trend(series)
    assert [p["value"] for p in chart.points] == [4, 9, 7, 12]
    ys = [p["y"] for p in chart.points]
    assert ys[3] < ys[1] < ys[2] < ys[0] <= chart.baseline  # higher values are drawn higher
    # Across, a point is a percentage of the plot's width, so the chart fills any width.
    assert [p["x"] for p in chart.points] == [0, 33.33, 66.67, 100]
    assert [t["value"] for t in chart.y_ticks] == [0, 5, 10, 15, 20]
    assert (chart.first["value"], chart.last["value"], chart.change) == (4, 12, 8)
    assert chart.summary == ("Untracked assets: 4 on Nov 1, 12 on Nov 4 (+8); highest 12 on Nov 4.")
    assert chart.line.startswith("M0.0,") and chart.area.endswith("Z")
    assert chart.gutter == 2  # "20": the room the stylesheet leaves for the axis labels
    assert trend([(date(2026, 11, 1), 123456)]).gutter == 7  # 250,000
    assert trend([]) is None


def test_stacked_bars_split_each_row_into_its_parts():
    rows = [
        {"label": "AWS", "total": 100, "a": 10, "b": 30, "urls": {"a": "/x"}},
        {"label": "Docker", "total": 10, "a": 5, "b": 0},
    ]
    chart = stacked_bars(rows, [("a", "first"), ("b", "second")])
    aws, docker = chart.rows
    assert [s["count"] for s in aws.segments] == [10, 30, 60]
    assert [s["width"] for s in aws.segments] == [10, 30, 60]  # percent of the track
    assert [s["x"] for s in aws.segments] == [0, 10, 40]
    assert [s["width"] for s in docker.segments] == [50, 0, 50]
    assert aws.segments[0]["url"] == "/x" and aws.segments[1]["url"] == ""
    assert (aws.parts_total, aws.share, docker.share) == (40, 40, 50)
    one_scale = stacked_bars(rows, [("a", "first"), ("b", "second")], shares=False)
    assert one_scale.rows[1].segments[0]["width"] == 5
    assert stacked_bars([], []) is None


def test_the_untracked_series_matches_what_was_untracked_each_day(estate, payments, reconciler):
    today = timezone.now()
    estate("prod", {"acct-a": 4}, at=today - timedelta(days=10))  # fn 1, 3 untracked
    estate("prod", {"acct-a": 8}, at=today - timedelta(days=5))  # + fn 5, 7
    estate("prod", {"acct-a": 6}, at=today - timedelta(days=3))  # fn 6 and 7 go
    services.assign_owner([Asset.objects.get(key="fn://acct-a/1")], payments, reconciler)
    current = Asset.objects.filter(gone_at__isnull=True, tracking="untracked").count()
    assert current == 2

    series = dict(untracked_series(30, current))
    assert len(series) == 30
    day = today.date()
    expected = {0: 2, 1: 3, 3: 3, 4: 4, 5: 4, 6: 2, 10: 2, 11: 0, 29: 0}
    for days_ago, count in expected.items():
        assert series[day - timedelta(days=days_ago)] == count, days_ago


def test_the_overview_draws_both_charts_with_numbers_and_links(client, viewer, estate):
    today = timezone.now()
    estate("prod", {"acct-a": 4}, at=today - timedelta(days=40))
    estate("prod", {"acct-a": 10}, at=today)
    client.force_login(viewer)
    page = page_of(client.get("/"))
    assert text_of(page, "trend-last") == "5"  # the number is printed, not only drawn
    assert "+3</strong> in 30 days" in page
    assert 'role="img"' in page and "<desc" in page
    ninety = page_of(client.get("/?trend=90"))
    assert "+5</strong> in 90 days" in ninety  # 0 ninety days ago
    assert 'aria-current="true">90 days' in ninety
    chart = page.split('data-testid="exposure-chart"')[1].split("</figure>")[0]
    segment_link = r'<a href="([^"]+)" aria-label="[^"]+"><rect'
    links = [html.unescape(u) for u in re.findall(segment_link, chart)]
    assert "/assets/?provider=aws&exposed=yes&tracking=untracked" in links
    for url in links:
        page_of(client.get(url))
    # Each bar's label and numbers are text of the page (they keep their size at any width),
    # words for a screen reader beside the bare numbers.
    aws = chart.split('<span class="bar-label">AWS</span>')[1].split("</li>")[0]
    exposed = Asset.objects.filter(provider="aws", exposed=True, gone_at__isnull=True).count()
    assert (
        f'<strong class="bar-num-main">{exposed}</strong><span class="visually-hidden"> exposed'
        '</span> / 10<span class="visually-hidden"> live</span>'
    ) in aws
    # The numbers beside a bar open its lists too: all exposed, and exposed but untracked.
    numbers = [html.unescape(u) for u in re.findall(r'<a href="([^"]+)"><(?:strong|span)', aws)]
    shadow = Asset.objects.filter(
        provider="aws", exposed=True, tracking="untracked", gone_at__isnull=True
    ).count()
    assert shadow > 0 and f"{shadow} untracked</span></a>" in aws
    assert numbers == [
        "/assets/?provider=aws&exposed=yes",
        "/assets/?provider=aws&exposed=yes&tracking=untracked",
    ]
