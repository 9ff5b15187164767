"""A report's figures as the files people keep: HTML in the dashboard's look (one static
stylesheet, no inline style or script, so it passes the strict Content-Security-Policy), PDF
rendered by WeasyPrint from the same HTML, and one long-form CSV with formula-safe cells."""

import csv
import io
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.template.loader import render_to_string

from inventory.spreadsheets import spreadsheet_safe

STYLESHEET = "daylight/report.css"
TEMPLATE = "reports/report.html"
# The headline figures as a report names them; percentages carry their sign.
FIGURE_LABELS = {
    "total": "Live assets",
    "tracked": "Tracked (accountable owner)",
    "accepted": "Accepted risk",
    "untracked": "Untracked",
    "owned_percent": "Owned, %",
    "accounted_percent": "Accounted for (owned or accepted), %",
    "exposed": "Internet-exposed",
    "exposed_untracked": "Exposed and untracked",
    "eol": "End of life",
    "open_findings": "Open findings",
    "critical_high": "Open critical and high findings",
}
# A rise in these is bad news; in the others (coverage) good news.
WORSE_WHEN_UP = {"untracked", "exposed", "exposed_untracked", "eol", "open_findings"}
WORSE_WHEN_UP |= {"critical_high"}
COVERAGE_METRICS = ("total", "tracked", "accepted", "untracked", "owned_percent")
COVERAGE_METRICS += ("accounted_percent", "exposed", "exposed_untracked", "eol")
ASSET_METRICS = ("name", "provider", "kind", "account", "region", "first_seen", "age_days")
ASSET_METRICS += ("exposed", "eol", "worst_finding")
# The bars' colours: SVG fills as attributes, which WeasyPrint draws and the CSP allows.
SEVERITY_COLOURS = {
    "critical": "#ae2219",
    "high": "#d2554c",
    "medium": "#c98a1e",
    "low": "#8a94a3",
    "info": "#c5cbd3",
}


def _moment(value: str):
    return datetime.fromisoformat(value) if value else None


def _width(count: int, largest: int) -> float:
    """A bar's length out of 100 (a non-zero count always shows)."""
    if not count or not largest:
        return 0
    return max(round(100 * count / largest, 1), 1.5)


def _change_text(change) -> str:
    if change is None:
        return "\N{EN DASH}"
    if change == 0:
        return "\N{PLUS-MINUS SIGN}0"
    sign = "+" if change > 0 else "\N{MINUS SIGN}"
    return f"{sign}{abs(change):,}"


def _trend(row: dict) -> str:
    if not row["change"]:
        return "same"
    worse = (row["change"] > 0) == (row["figure"] in WORSE_WHEN_UP)
    return "worse" if worse else "better"


def context(report, *, stylesheet_url: str | None) -> dict:
    """What the template shows, from the stored figures alone: a report reads the same
    whenever it is rendered."""
    figures = report.figures
    aging_top = max((row["count"] for row in figures["aging"]), default=0)
    severity_top = max((row["count"] for row in figures["findings"]["by_severity"]), default=0)
    return {
        "report": report,
        "f": figures,
        "since": _moment(figures["since"]),
        "until": _moment(figures["until"]),
        "generated": _moment(figures["generated"]),
        "data_as_of": _moment(figures["freshness"]["oldest_success"]),
        "stylesheet_url": stylesheet_url,
        "base_url": settings.DAYLIGHT_BASE_URL,
        "compared": [
            {
                **row,
                "label": FIGURE_LABELS[row["figure"]],
                "trend": _trend(row),
                "change_text": _change_text(row["change"]),
            }
            for row in figures["compared"]
        ],
        "has_previous": any(row["before"] is not None for row in figures["compared"]),
        "aging": [{**row, "width": _width(row["count"], aging_top)} for row in figures["aging"]],
        "severities": [
            {
                **row,
                "width": _width(row["count"], severity_top),
                "name": row["severity"].lower(),
                "colour": SEVERITY_COLOURS[row["severity"].lower()],
            }
            for row in figures["findings"]["by_severity"]
        ],
    }


def html(report) -> str:
    """The report as a web page that links the stylesheet among Daylight's static files by its
    plain name, never a build's hashed one: the page is stored for years, and a later release's
    static files no longer hold this one's hashed names (collectstatic keeps the plain ones)."""
    stylesheet_url = StaticFilesStorage().url(STYLESHEET)
    return render_to_string(TEMPLATE, context(report, stylesheet_url=stylesheet_url))


def _fetch_nothing():
    """Everything a report shows is in its HTML and stylesheet: WeasyPrint may fetch nothing,
    so no name in a report can make the renderer read a file or reach a host."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=())


def pdf(report) -> bytes:
    """The report rendered to PDF by WeasyPrint, with the same stylesheet (its print rules).
    WeasyPrint is imported here: it loads Pango when imported, which only this needs."""
    from weasyprint import CSS, HTML

    stylesheet = Path(finders.find(STYLESHEET)).read_text()
    document = HTML(
        string=render_to_string(TEMPLATE, context(report, stylesheet_url=None)),
        url_fetcher=_fetch_nothing(),
    )
    return document.write_pdf(stylesheets=[CSS(string=stylesheet, url_fetcher=_fetch_nothing())])


def csv_rows(figures: dict):
    """The figures in long form: (section, item, measure, value), one number or fact a row."""
    for name in FIGURE_LABELS:
        yield "summary", "", name, figures["summary"].get(name)
    for row in figures["compared"]:
        for measure in ("now", "before", "change"):
            yield "compared_with_previous", row["figure"], measure, row[measure]
    for row in [*figures["coverage"]["providers"], figures["coverage"]["totals"]]:
        for measure in COVERAGE_METRICS:
            yield "coverage", row.get("provider", "All providers"), measure, row[measure]
    for row in figures["aging"]:
        yield "untracked_aging", row["label"], "assets", row["count"]
    for section in ("oldest_untracked", "exposed_untracked"):
        yield from _asset_rows(section, figures[section])
    for row in figures["lifecycle"]:
        yield "lifecycle_findings", row["rule"], "open", row["count"]
    for row in figures["end_of_life"]:
        item = f"{row['what']} {row['version']} ({row['kind']})"
        for measure in ("count", "state", "ends"):
            yield "end_of_life", item, measure, row[measure]
    for row in figures["findings"]["by_severity"]:
        yield "open_findings", row["severity"], "count", row["count"]
    for row in figures["findings"]["by_rule"]:
        yield "open_findings_by_rule", row["rule"], "count", row["count"]
    changes = figures["changes"]
    for measure in ("new", "new_untracked", "gone", "owner_changes", "decisions_total"):
        yield "changes", "", measure, changes[measure]
    yield "changes", "", "risks_accepted", changes["risks_accepted"]
    yield "changes", "", "risks_expired", changes["risks_expired"]
    for row in changes["decisions"]:
        yield "changes_decisions", row["action"], "count", row["count"]
    yield from _asset_rows("new_untracked", changes["new_untracked_assets"])


def _asset_rows(section, assets):
    for asset in assets:
        for measure in ASSET_METRICS:
            value = asset[measure]
            if isinstance(value, bool):
                value = "yes" if value else "no"
            yield section, asset["key"], measure, value


def csv_text(report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["section", "item", "measure", "value"])
    for row in csv_rows(report.figures):
        writer.writerow([spreadsheet_safe("" if value is None else value) for value in row])
    return buffer.getvalue()
