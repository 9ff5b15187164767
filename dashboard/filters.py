"""The assets explorer's filters: what the query string may say, validated, and back again.

Filters live in the URL so a list can be shared, bookmarked and linked from every number on the
overview. A value that does not validate is dropped and said so, never guessed at.
"""

from datetime import datetime
from functools import cache
from urllib.parse import urlencode

from django import forms
from django.urls import reverse

from inventory.models import AssetKind, Provider, Severity, TrackingStatus
from inventory.rules import RULES
from inventory.selectors import UNOWNED

from .paging import SortKey

ANY = ""
YES_NO = [(ANY, "Any"), ("yes", "Yes"), ("no", "No")]
STATES = [("live", "Live"), ("gone", "Gone"), ("all", "Live and gone")]
ID = SortKey("id", type=int)

# Sortable columns by their name in the URL, with the keyset each sorts by (always ending in id).
SORTS = {
    "name": [SortKey("name"), ID],
    "provider": [SortKey("provider"), SortKey("name"), ID],
    "kind": [SortKey("kind"), SortKey("name"), ID],
    "account": [SortKey("account"), SortKey("name"), ID],
    "region": [SortKey("region"), SortKey("name"), ID],
    "severity": [SortKey("severity_rank", type=int), ID],
    "first_seen": [SortKey("first_seen", type=datetime), ID],
    "last_changed": [SortKey("last_changed", type=datetime), ID],
}
DEFAULT_SORT = "name"
# Sorts an index gives the assets in (inventory.models.Asset.Meta.indexes; worst finding for
# live assets only): a page can walk it (see paging.keyset_page). Others are sorted.
INDEXED_SORTS = {
    "name": {"live", "gone", "all"},
    "first_seen": {"live", "gone", "all"},
    "severity": {"live"},
}
SORT_CHOICES = [(name, name) for name in SORTS] + [(f"-{name}", f"-{name}") for name in SORTS]

# How each filter reads on a chip above the table.
LABELS = {
    "q": "Search",
    "provider": "Provider",
    "kind": "Kind",
    "account": "Account",
    "region": "Region",
    "namespace": "Namespace",
    "runs_on": "Runs on",
    "owner": "Owner",
    "tracking": "Tracking",
    "exposed": "Exposed",
    "eol": "End of life",
    "min_severity": "Severity at least",
    "severity": "Worst finding",
    "finding": "Finding",
    "runtime": "Runtime",
    "version": "Version",
    "image": "Image",
    "label": "Tag",
    "creator": "Creator",
    "first_seen_after": "First seen from",
    "first_seen_before": "First seen before",
    "source": "Source",
    "scope": "Scope",
    "state": "State",
}
# The filters always in sight, and those folded under "More filters".
PRIMARY = ("provider", "kind", "owner", "tracking", "exposed", "eol", "min_severity", "state")
SECONDARY = (
    "account",
    "region",
    "namespace",
    "runs_on",
    "label",
    "runtime",
    "version",
    "image",
    "creator",
    "finding",
    "severity",
    "first_seen_after",
    "first_seen_before",
    "source",
)


def is_walkable(criteria: dict, sort: str) -> bool:
    """Whether an index gives the assets ``criteria`` ask for in the order ``sort``."""
    return criteria.get("state", "live") in INDEXED_SORTS.get(sort.lstrip("-"), ())


def keys_for(sort: str) -> list[SortKey]:
    """The keyset for a ``sort`` value such as "name" or "-first_seen"."""
    descending = sort.startswith("-")
    keys = SORTS.get(sort.lstrip("-"), SORTS[DEFAULT_SORT])
    if not descending:
        return keys
    return [key.reversed() for key in keys]


class AssetFilterForm(forms.Form):
    """Every filter of the explorer. ``teams`` are (slug, name) pairs for the owner choice."""

    q = forms.CharField(required=False, max_length=200, label="Name or key contains")
    provider = forms.ChoiceField(required=False, choices=[(ANY, "Any"), *Provider.choices])
    kind = forms.ChoiceField(required=False, choices=[(ANY, "Any"), *AssetKind.choices])
    account = forms.CharField(required=False, max_length=128, label="Account / project")
    region = forms.CharField(required=False, max_length=64)
    namespace = forms.CharField(required=False, max_length=253, label="Namespace / group")
    # A cluster's or Docker host's name or key (keys are the longest: 512).
    runs_on = forms.CharField(required=False, max_length=512, label="Cluster / host")
    owner = forms.ChoiceField(required=False)
    tracking = forms.ChoiceField(required=False, choices=[(ANY, "Any"), *TrackingStatus.choices])
    exposed = forms.ChoiceField(required=False, choices=YES_NO, label="Internet-exposed")
    eol = forms.ChoiceField(required=False, choices=YES_NO, label="End of life")
    min_severity = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(ANY, "Any"), *Severity.choices],
        label="Open finding at least",
    )
    severity = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(ANY, "Any"), *Severity.choices],
        label="Worst open finding",
    )
    finding = forms.ChoiceField(
        required=False,
        choices=[(ANY, "Any"), *((rule.slug, rule.title) for rule in RULES)],
        label="Open finding",
    )
    runtime = forms.CharField(required=False, max_length=64)
    version = forms.CharField(required=False, max_length=64, label="Platform version")
    image = forms.CharField(required=False, max_length=512, label="Image repository")
    label = forms.CharField(required=False, max_length=600, label="Tag key=value")
    creator = forms.CharField(required=False, max_length=255)
    first_seen_after = forms.DateField(
        required=False, label="First seen from", widget=forms.DateInput(attrs={"type": "date"})
    )
    first_seen_before = forms.DateField(
        required=False, label="First seen before", widget=forms.DateInput(attrs={"type": "date"})
    )
    source = forms.CharField(required=False, max_length=100)
    scope = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    state = forms.ChoiceField(required=False, choices=STATES)
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)

    def __init__(self, data, teams):
        super().__init__(data)
        self.fields["owner"].choices = [
            (ANY, "Anyone"),
            (UNOWNED, "Unowned"),
            *((slug, name) for slug, name in teams),
        ]
        self.team_names = dict(teams)

    def primary_fields(self):
        return [self[name] for name in PRIMARY]

    def secondary_fields(self):
        return [self[name] for name in SECONDARY]

    def secondary_active(self, criteria) -> bool:
        return any(name in criteria for name in SECONDARY)

    def criteria(self) -> dict:
        """The valid, non-empty filters (without the sort). Invalid ones are left out."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            name: value
            for name, value in cleaned.items()
            if name != "sort" and name not in self.errors and value not in (None, "")
        }

    def ordering(self) -> str:
        """The valid ``sort`` value, or the default."""
        self.is_valid()
        if "sort" in self.errors:
            return DEFAULT_SORT
        return self.cleaned_data.get("sort") or DEFAULT_SORT

    def rejected(self) -> list[str]:
        """Human-readable names of the filters whose values were dropped."""
        return [LABELS.get(name, name) for name in self.errors]

    def display(self, name, value) -> str:
        """A filter's value as the chip shows it."""
        field = self.fields[name]
        if name == "owner":
            return "Unowned" if value == UNOWNED else self.team_names.get(value, value)
        if isinstance(field, forms.ChoiceField):
            return str(dict(field.choices).get(value, value))
        return value.isoformat() if hasattr(value, "isoformat") else str(value)


def as_params(criteria: dict, sort: str = DEFAULT_SORT) -> dict:
    """The query-string form of ``criteria``: dates as ISO days, the sort only when not default."""
    params = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in criteria.items()
    }
    if sort != DEFAULT_SORT:
        params["sort"] = sort
    return params


@cache
def _explorer_path() -> str:
    return reverse("dashboard:assets")


def assets_url(**criteria) -> str:
    """The explorer's URL for these filters, e.g. ``assets_url(provider="aws", exposed="yes")``."""
    params = {name: value for name, value in criteria.items() if value not in (None, "")}
    query = urlencode(as_params(params))
    return _explorer_path() + (f"?{query}" if query else "")


def chips(form: AssetFilterForm, criteria: dict, sort: str) -> list[dict]:
    """One chip per active filter, each with the URL of the same list without that filter."""
    result = []
    for name, value in criteria.items():
        if name == "state" and value == "live":
            continue
        rest = {k: v for k, v in criteria.items() if k != name}
        result.append(
            {
                "name": name,
                "label": LABELS.get(name, name),
                "value": form.display(name, value),
                "remove_url": "?" + urlencode(as_params(rest, sort)),
            }
        )
    return result


def sort_links(criteria: dict, sort: str) -> dict:
    """For each sortable column, the URL that sorts by it (flipping the direction if it is the
    current sort) and its ``aria-sort`` state."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    links = {}
    for name in SORTS:
        if name == current:
            target = name if descending else f"-{name}"
            state = "descending" if descending else "ascending"
        else:
            target = f"-{name}" if name in ("severity", "first_seen", "last_changed") else name
            state = "none"
        links[name] = {"url": "?" + urlencode(as_params(criteria, target)), "state": state}
    return links
