"""The reconcilers' decisions, as the queue and the asset page post them. Every decision is
applied through ``inventory.services``, which audits it and writes the assets' history."""

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.http import QueryDict
from django.utils import timezone

from inventory import selectors, services, signin_limits
from inventory.models import Asset, OwnershipRule, Provider, RunStatus, Team
from inventory.selectors import AUDIT_OBJECTS

from .filters import AssetFilterForm, as_params
from .models import MAX_VIEWS_PER_USER, SavedView

MAX_SELECTION = 500
DEFAULT_ACCEPT_DAYS = 90


class DecisionForm(forms.Form):
    """One decision about one or more live assets.

    assign  they belong to ``team``;
    claim   they belong to ``my_team``, one of the deciding user's own teams (the only one, when
            they are in just one);
    accept  a known, allowed risk for ``reason`` until ``expires`` (optional; then it reopens);
    clear   forget the decision, the ownership rules decide again;
    rule    create an ownership rule "tag ``tag`` → ``team``", which resolves every asset
            carrying that tag, these and any others.
    """

    ASSIGN, CLAIM, ACCEPT, CLEAR, RULE = "assign", "claim", "accept", "clear", "rule"
    ACTIONS = [
        (ASSIGN, "Assign to a team"),
        (CLAIM, "Claim for my team"),
        (ACCEPT, "Accept the risk"),
        (CLEAR, "Clear the decision"),
        (RULE, "Create an ownership rule from a tag"),
    ]

    action = forms.ChoiceField(choices=ACTIONS)
    asset = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.filter(gone_at__isnull=True).only("id", "name", "labels")
    )
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False)
    my_team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    reason = forms.CharField(required=False, max_length=1000, strip=True)
    expires = forms.DateField(required=False)
    tag = forms.CharField(required=False, max_length=600, strip=False)

    def __init__(self, data, user):
        super().__init__(data)
        self.user = user
        if user.is_authenticated:
            self.fields["my_team"].queryset = Team.objects.filter(members=user)

    def clean_asset(self):
        assets = self.cleaned_data["asset"]
        if len(assets) > MAX_SELECTION:
            raise ValidationError(f"Decide on at most {MAX_SELECTION} assets at a time.")
        return assets

    def clean(self):
        data = super().clean()
        action, team = data.get("action"), data.get("team")
        if action in (self.ASSIGN, self.RULE) and team is None:
            self.add_error("team", "Choose the team.")
        if action == self.CLAIM:
            self._clean_my_team(data)
        if action == self.ACCEPT:
            if not data.get("reason"):
                self.add_error("reason", "Say why the risk is accepted.")
            expires = data.get("expires")
            if expires and expires <= timezone.localdate():
                self.add_error("expires", "The expiry must be a day in the future.")
        if action == self.RULE:
            self._clean_tag(data)
        return data

    def _clean_my_team(self, data):
        if data.get("my_team") or "my_team" in self.errors:
            return
        mine = list(self.fields["my_team"].queryset[:2])
        if not mine:
            self.add_error("my_team", "You are not in any team: assign the asset instead.")
        elif len(mine) > 1:
            self.add_error("my_team", "Choose which of your teams claims it.")
        else:
            data["my_team"] = mine[0]

    def _clean_tag(self, data):
        key, has_value, value = (data.get("tag") or "").partition("=")
        if not key.strip():
            self.add_error("tag", "Choose a tag as key=value.")
            return
        assets = data.get("asset") or []
        if not has_value or any(a.labels.get(key) != value for a in assets):
            self.add_error("tag", "Every chosen asset must carry this tag.")
            return
        data["tag_key"], data["tag_value"] = key, value

    def expires_at(self):
        expires = self.cleaned_data.get("expires")
        if not expires:
            return None
        return datetime.combine(expires, time.min, tzinfo=timezone.get_current_timezone())

    def apply(self, actor) -> str:
        """Make the decision as ``actor``; returns what happened, in words."""
        data, assets = self.cleaned_data, list(self.cleaned_data["asset"])
        what = _count(assets)
        if data["action"] == self.ASSIGN:
            services.assign_owner(assets, data["team"], actor, reason=data["reason"])
            return f"Assigned {what} to {data['team'].name}."
        if data["action"] == self.CLAIM:
            services.claim_for_team(assets, data["my_team"], actor, reason=data["reason"])
            return f"Claimed {what} for {data['my_team'].name}."
        if data["action"] == self.ACCEPT:
            expires_at = self.expires_at()
            services.accept_risk(
                assets, actor, data["reason"], expires_at=expires_at, team=data["team"]
            )
            until = f" until {expires_at:%Y-%m-%d}" if expires_at else ""
            return f"Accepted the risk of {what}{until}."
        if data["action"] == self.CLEAR:
            services.clear_decision(assets, actor, reason=data["reason"])
            return f"Cleared the decision on {what}: the ownership rules decide again."
        return self._create_rule(actor)

    def _create_rule(self, actor) -> str:
        data = self.cleaned_data
        last = OwnershipRule.objects.aggregate(last=Max("position"))["last"] or 0
        rule = OwnershipRule(
            name=f"Tag {data['tag_key']}={data['tag_value']}"[:100],
            team=data["team"],
            tag_key=data["tag_key"],
            tag_value=data["tag_value"],
            position=last + 10,
        )
        changed = services.save_rule(rule, actor)
        return (
            f"Created the rule “{rule.name}” → {data['team'].name}; "
            f"{_count(range(changed))} changed owner."
        )


def _count(items) -> str:
    return f"{len(items)} asset{'' if len(items) == 1 else 's'}"


def default_expiry():
    return timezone.localdate() + timedelta(days=DEFAULT_ACCEPT_DAYS)


class AuditFilterForm(forms.Form):
    """The audit log's filters."""

    q = forms.CharField(required=False, max_length=200, label="Object or note contains")
    actor = forms.CharField(required=False, max_length=150, label="Who")
    action = forms.ChoiceField(required=False, label="What")
    object_type = forms.ChoiceField(
        required=False,
        label="Object",
        choices=[("", "Any"), *AUDIT_OBJECTS.items()],
    )
    object_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="Before", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data, actions):
        super().__init__(data)
        groups = [("asset.", "Any asset decision"), ("rule.", "Any rule change")]
        groups += [("source.", "Any source change"), ("team.", "Any team change")]
        groups += [("user.", "Any user change")]
        self.fields["action"].choices = [("", "Any"), *groups, *actions.items()]

    def criteria(self) -> dict:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {k: v for k, v in cleaned.items() if k not in self.errors and v not in (None, "")}


class RunFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any"), *RunStatus.choices])

    def criteria(self) -> dict:
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v}


class AccessFilterForm(forms.Form):
    """The access history's filters; ``actor`` alone turns the page into that principal's."""

    q = forms.CharField(required=False, max_length=200, label="Actor, action or asset contains")
    provider = forms.ChoiceField(required=False, choices=[("", "Any"), *Provider.choices])
    actor = forms.CharField(required=False, max_length=255, label="Actor (exact)")
    action = forms.CharField(required=False, max_length=255, label="Action (exact)")
    asset = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="Before", widget=forms.DateInput(attrs={"type": "date"})
    )

    def criteria(self) -> dict:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {k: v for k, v in cleaned.items() if k not in self.errors and v not in (None, "")}


def explorer_query(query) -> str:
    """The explorer's ``query`` (a QueryDict) as it is saved and compared: only filters that
    validate, the sort only when not the default, no paging."""
    form = AssetFilterForm(query, selectors.team_choices())
    return urlencode(as_params(form.criteria(), form.ordering()))


class SavedViewForm(forms.Form):
    """Save the explorer's current filters under a name; the same name again replaces it."""

    name = forms.CharField(max_length=100, strip=True)
    query = forms.CharField(required=False, max_length=2000, strip=False)
    shared = forms.BooleanField(required=False, label="Shared with everyone")

    def __init__(self, data, user):
        super().__init__(data)
        self.user = user

    def clean_query(self):
        return explorer_query(QueryDict(self.cleaned_data["query"].lstrip("?")))

    def clean(self):
        data = super().clean()
        name = data.get("name")
        mine = SavedView.objects.filter(owner=self.user)
        if name and not mine.filter(name=name).exists() and mine.count() >= MAX_VIEWS_PER_USER:
            raise ValidationError(f"Keep at most {MAX_VIEWS_PER_USER} views: delete one first.")
        return data

    def save(self) -> tuple[SavedView, bool]:
        """(the view, whether it is new)."""
        data = self.cleaned_data
        return SavedView.objects.update_or_create(
            owner=self.user,
            name=data["name"],
            defaults={"query": data["query"], "shared": data["shared"]},
        )


class SignInForm(AuthenticationForm):
    """Django's sign-in form, which says so when the name is locked out after failed attempts
    (inventory.signin_limits) instead of blaming the password."""

    locked_out = False

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and signin_limits.is_locked_out(self.request, username):
            self.locked_out = True
            raise ValidationError("Too many failed sign-ins.", code="locked_out")
        return super().clean()

    def lockout_minutes(self):
        return signin_limits.lockout_minutes()
