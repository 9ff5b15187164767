"""The template helpers: relative times, middle-cut identifiers, markers, JSON values."""

from datetime import timedelta

from django.template import Context, Template

from dashboard.templatetags.daylight import (
    ago,
    as_text,
    duration,
    ident,
    marker,
    reltime,
    schedule,
)
from tests.conftest import NOW


def test_ago_is_compact_and_knows_the_future():
    assert ago(NOW - timedelta(seconds=30), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=12, seconds=40), NOW) == "12 min ago"
    assert ago(NOW - timedelta(hours=5, minutes=59), NOW) == "5 h ago"
    assert ago(NOW - timedelta(days=3, hours=23), NOW) == "3 d ago"
    assert ago(NOW - timedelta(days=400), NOW) == "13 mo ago"
    assert ago(NOW + timedelta(hours=2, minutes=5), NOW) == "in 2 h"


def test_reltime_gives_the_absolute_utc_time_on_hover():
    rendered = reltime(NOW - timedelta(days=2))
    assert 'datetime="2026-10-30T12:00:00+00:00"' in rendered
    assert 'title="2026-10-30 12:00:00 UTC"' in rendered
    assert reltime(None) == "—"


def test_ident_keeps_the_whole_value_for_hover_and_copy_and_escapes_it():
    arn = "arn:aws:lambda:us-east-1:111111111111:function:<b>payments-webhook-handler</b>"
    rendered = ident(arn)
    assert f'title="{arn.replace("<", "&lt;").replace(">", "&gt;")}"' in rendered
    head, tail = arn[:-14], arn[-14:]
    assert rendered.count("&lt;b&gt;") == 2  # once in the title, once in the text
    assert "<b>" not in rendered
    assert 'class="ident-tail">' + tail.replace("<", "&lt;").replace(">", "&gt;") in rendered
    assert 'class="ident-head">' + head.replace("<", "&lt;").replace(">", "&gt;") in rendered
    assert ident("short") == '<span class="mono">short</span>'
    assert ident("") == "—"


def test_marker_is_colour_icon_and_word():
    rendered = marker("untracked")
    assert 'class="marker marker-untracked"' in rendered
    assert '<use href="#i-untracked">' in rendered
    assert rendered.endswith("Untracked</span>")
    assert "&lt;x&gt;" in marker("<x>")  # an unknown status is still text


def test_as_text_renders_structures_as_json_and_nothing_as_a_dash():
    assert as_text({"b": 1, "a": ["x", "ü"]}) == '{"a": ["x", "ü"], "b": 1}'
    assert as_text(True) == "yes" and as_text(False) == "no"
    assert as_text(None) == as_text("") == as_text([]) == "—"
    assert as_text(0) == "0"


def test_as_text_output_is_escaped_by_the_template():
    rendered = Template("{% load daylight %}{{ value|as_text }}").render(
        Context({"value": {"k": "<script>"}})
    )
    assert rendered == "{&quot;k&quot;: &quot;&lt;script&gt;&quot;}"


def test_duration_reads_naturally():
    assert duration(timedelta(milliseconds=850)) == "850 ms"
    assert duration(timedelta(seconds=4.25)) == "4.2 s"
    assert duration(timedelta(seconds=42)) == "42 s"
    assert duration(timedelta(seconds=185)) == "3 min 5 s"
    assert duration(None) == "—"


def test_schedule_reads_in_words_and_keeps_the_expression():
    assert schedule("0 6 * * *") == '<span title="cron: 0 6 * * *">Daily at 06:00 UTC</span>'
    assert schedule("0 6 * * *", spelled_out=True) == (
        'Daily at 06:00 UTC <span class="mono muted">(0 6 * * *)</span>'
    )
    # No words for it: the expression itself, escaped.
    assert schedule("0 */6 * * *") == '<span class="mono">0 */6 * * *</span>'
    assert schedule("<b>") == '<span class="mono">&lt;b&gt;</span>'
