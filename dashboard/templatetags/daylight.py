"""Template helpers for Daylight's pages: status markers, times, identifiers and JSON values.

Everything here builds HTML with ``format_html``, so the values it is given (often names and tags
chosen by whoever deployed the asset) are escaped exactly once.
"""

import json
from datetime import UTC, datetime, timedelta
from functools import cache

from django import forms, template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from dashboard import filters
from inventory.models import RunStatus, Severity
from inventory.schedules import describe_cron

register = template.Library()

# The one marker per status, used everywhere the status appears: colour + icon + word.
MARKERS = {
    "untracked": ("Untracked", "Shadow IT: nobody is accountable for this asset"),
    "tracked": ("Tracked", "An accountable team owns this asset"),
    "accepted": ("Accepted risk", "Known and allowed, with a reason"),
    "exposed": ("Exposed", "Reachable from the internet"),
    "eol": ("End of life", "Runs an end-of-life runtime or version"),
    "gone": ("Gone", "No longer seen by its collector"),
}
RUN_STATUS_ICONS = {
    "succeeded": "ok",
    "failed": "failed",
    "partial": "partial",
    "running": "running",
    "skipped": "skipped",
}
RUN_STATUS_LABELS = dict(RunStatus.choices)
TIME_UNITS = (("d", 86400), ("h", 3600), ("min", 60))
SEVERITY_NAMES = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}
SEVERITY_LABELS = dict(Severity.choices)


def _icon(name):
    return format_html(
        '<svg class="icon" aria-hidden="true" focusable="false"><use href="#i-{}"></use></svg>',
        name,
    )


@register.simple_tag
def icon(name):
    """An icon from the sprite in ``base.html``; decorative, so hidden from screen readers."""
    return _icon(name)


@register.simple_tag
def marker(status, label=None):
    """The badge for a tracking or risk status (untracked, exposed, eol, accepted, …)."""
    word, meaning = MARKERS.get(status, (status, ""))
    return format_html(
        '<span class="marker marker-{}" title="{}">{}{}</span>',
        status,
        meaning,
        _icon(status),
        label or word,
    )


@register.simple_tag
def run_status(status, label=None):
    """A run or scope status: icon and word, coloured by outcome."""
    return format_html(
        '<span class="run-status run-{}">{}{}</span>',
        status or "none",
        _icon(RUN_STATUS_ICONS.get(status, "none")),
        label or RUN_STATUS_LABELS.get(status, "Not collected"),
    )


@register.simple_tag
def severity(value, label=None):
    """A finding severity as a small coloured word; ``label`` defaults to the severity's name."""
    name = SEVERITY_NAMES.get(value, "info")
    return format_html(
        '<span class="sev sev-{}">{}</span>', name, label or SEVERITY_LABELS.get(value, value)
    )


# Short names for dense tables; pages with room use the models' full labels.
SHORT_NAMES = {
    "gcp": "GCP",
    "aws": "AWS",
    "azure": "Azure",
    "kubernetes": "Kubernetes",
    "docker": "Docker",
    "demo": "Demo",
    "workload": "Workload",
    "docker_host": "Docker host",
}


@register.filter
def short(value):
    """A provider or kind's short name: "GCP", "Workload", "Function"."""
    return SHORT_NAMES.get(value, str(value).replace("_", " ").capitalize())


@register.filter
def get(mapping, key):
    """``mapping[key]`` for keys a template cannot spell (kinds, rule slugs); 0 when absent.
    Only for Daylight's own mappings: never for tags, whose keys are chosen by others."""
    return mapping.get(key, 0) if isinstance(mapping, dict) else 0


@register.filter
def num(value):
    """A count with thousands separated: 1,234,567."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value


@register.simple_tag
def figure(count, **criteria):
    """A count that links to the assets behind it; a zero is just a muted zero."""
    if not count:
        return format_html('<span class="zero">{}</span>', 0 if count == 0 else "—")
    return format_html(
        '<a class="figure" href="{}">{}</a>', filters.assets_url(**criteria), num(count)
    )


@register.simple_tag
def assets_url(**criteria):
    """The assets explorer filtered by ``criteria``: every number links to the list behind it."""
    return filters.assets_url(**criteria)


def ago(moment: datetime, now: datetime | None = None) -> str:
    """A compact distance in time: "just now", "12 min ago", "5 h ago", "3 d ago", "in 2 h"."""
    delta = (now or timezone.now()) - moment
    future = delta < timedelta(0)
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "just now"
    unit, size = next((name, length) for name, length in TIME_UNITS if seconds >= length)
    amount = int(seconds // size)
    if unit == "d" and amount >= 60:
        unit, amount = "mo", amount // 30
    return f"in {amount} {unit}" if future else f"{amount} {unit} ago"


@register.simple_tag
def reltime(moment, empty="—"):
    """A relative time with the absolute UTC time on hover and in the ``datetime`` attribute."""
    if not moment:
        return empty
    moment = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
        ago(moment),
    )


@register.simple_tag
def schedule(expression, spelled_out=False):
    """A cron schedule in words with the expression on hover (and after it, if ``spelled_out``),
    or the expression itself when it is not one of the shapes ``describe_cron`` knows."""
    words = describe_cron(expression)
    if words is None:
        return format_html('<span class="mono">{}</span>', expression)
    if spelled_out:
        return format_html('{} <span class="mono muted">({})</span>', words, expression)
    return format_html('<span title="cron: {}">{}</span>', expression, words)


@register.simple_tag
def ident(value, tail=14):
    """A long identifier (ARN, digest, resource ID) that the stylesheet cuts in the middle when
    space is short: the head ends in an ellipsis, the tail stays. The full value is on hover, and
    a selection copies it whole because clipped text is still text."""
    text = "" if value is None else str(value)
    if not text:
        return "—"
    if len(text) <= tail * 2:
        return format_html('<span class="mono">{}</span>', text)
    return format_html(
        '<span class="mono ident" title="{}"><span class="ident-head">{}</span>'
        '<span class="ident-tail">{}</span></span>',
        text,
        text[:-tail],
        text[-tail:],
    )


@register.filter
def as_text(value):
    """A collected or history value as readable text: JSON for structures, "—" for nothing."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return str(value)


@register.filter
def as_json(value):
    """A structure as indented JSON, for reading configuration."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2)


@register.filter
def took(run):
    """How long a run (anything with ``started_at`` and ``finished_at``) took."""
    if not getattr(run, "finished_at", None):
        return "—"
    return duration(run.finished_at - run.started_at)


@register.filter
def duration(delta):
    """A run's duration: "850 ms", "12 s", "3 min 5 s"."""
    if delta is None:
        return "—"
    seconds = delta.total_seconds()
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{round(seconds)} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


@cache
def _path_prefix(view_name, sample):
    """The part of a detail view's path before its argument, worked out once: a page of fifty
    rows would otherwise resolve the same URL pattern a hundred times."""
    path = reverse(view_name, args=[sample])
    return path[: path.rindex(f"/{sample}/") + 1]


@register.filter
def href(obj):
    """The page of an asset (``Asset`` or its id) or a team, as ``get_absolute_url`` gives it."""
    if hasattr(obj, "slug"):
        return f"{_path_prefix('dashboard:team', 'sample')}{obj.slug}/"
    pk = getattr(obj, "pk", obj)
    return f"{_path_prefix('dashboard:asset', 1)}{int(pk)}/"


@register.simple_tag
def control(field):
    """A form field's ``<input>`` or ``<select>``, built here rather than through Django's widget
    templates (a dozen of those cost more than the rest of a page). Values are escaped by
    ``format_html``."""
    formfield, value = field.field, field.value()
    if isinstance(formfield, forms.ChoiceField):
        chosen = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (choice, " selected" if str(choice) == chosen else "", label)
                for choice, label in formfield.choices
            ),
        )
        return format_html(
            '<select name="{}" id="{}">{}</select>', field.html_name, field.id_for_label, options
        )
    widget = formfield.widget
    kind = "hidden" if widget.is_hidden else widget.attrs.get("type", widget.input_type)
    if isinstance(value, (datetime, timedelta)) or hasattr(value, "isoformat"):
        value = value.isoformat()
    limit = getattr(formfield, "max_length", None)
    return format_html(
        '<input type="{}" name="{}" id="{}" value="{}"{}>',
        kind,
        field.html_name,
        field.id_for_label,
        "" if value is None else value,
        format_html(' maxlength="{}"', limit) if limit else "",
    )
