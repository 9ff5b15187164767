"""The owner suggestion's pure parts: stems, tags that name teams, majorities, combination."""

import pytest

from inventory.suggestions import (
    Evidence,
    Team,
    combine,
    majority_signal,
    name_stem,
    normalize,
    suggest_owner,
    tag_signals,
)

PAYMENTS = Team(1, "payments", "Payments")
DATA = Team(2, "data-science", "Data Science")
PLATFORM = Team(3, "platform", "Platform")
TEAMS = [PAYMENTS, DATA, PLATFORM]
NAMES = {t.id: t.name for t in TEAMS}


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("checkout-api-7f9c2", "checkout-api"),
        ("checkout-api-002", "checkout-api"),
        ("checkout-api-prod", "checkout-api"),
        ("Checkout_API.v2", "checkout-api"),
        ("payments-worker-5d8f7b9c4-x7kq2", "payments-worker"),
        ("etl", "etl"),
        ("123", "123"),  # never empty: the first part always stays
        ("feature-store", "feature-store"),  # "store" is a word, not a copy marker
        ("model-serve-abcde", "model-serve-abcde"),  # five letters without a digit: a word
    ],
)
def test_name_stem_drops_what_tells_copies_apart(name, stem):
    assert name_stem(name) == stem


def test_normalize_spells_names_as_slugs():
    assert normalize("  Data_Science Team ") == "data-science-team"
    assert normalize("a//b::c") == "a-b-c"


def test_a_tag_naming_a_team_is_a_signal_stronger_under_an_owner_key():
    signals = tag_signals(
        {"Team": "Data_Science", "purpose": "payments", "env": "prod", "owner": "nobody"}, TEAMS
    )
    by_team = {s.team_id: s for s in signals}
    assert set(by_team) == {DATA.id, PAYMENTS.id}
    assert by_team[DATA.id].weight > by_team[PAYMENTS.id].weight
    assert by_team[DATA.id].evidence == "tag Team=Data_Science names Data Science"


@pytest.mark.parametrize("value", ["platform", "Platform", "platform-team", "team_platform"])
def test_tags_match_a_team_by_slug_or_name_with_or_without_team(value):
    assert [s.team_id for s in tag_signals({"owner": value}, TEAMS)] == [PLATFORM.id]


def test_tags_that_name_no_team_or_are_not_text_say_nothing():
    assert tag_signals({"owner": "payments-ops", "team": "", "n": 3}, TEAMS) == []


def test_a_majority_needs_support_and_more_than_half():
    assert majority_signal("creator", "ann", {1: 1}, NAMES) is None  # one asset: no pattern
    assert majority_signal("namespace", "ns", {1: 2, 2: 2}, NAMES) is None  # 50/50 over 4
    assert majority_signal("account", "", {1: 9}, NAMES) is None
    assert majority_signal("account", "acct", {99: 9}, NAMES) is None  # a team since deleted
    signal = majority_signal("namespace", "shop", {1: 3, 2: 1}, NAMES)
    assert (signal.team_id, signal.weight) == (1, 0.45)  # 0.6 * 3/4
    assert signal.evidence == "3 of 4 owned assets in namespace shop are Payments"


def test_signals_for_one_team_add_up_as_independent_evidence():
    suggestion = combine(
        [
            *tag_signals({"team": "payments"}, TEAMS),
            majority_signal("creator", "ann", {1: 4}, NAMES),
            majority_signal("account", "acct", {2: 10}, NAMES),
        ]
    )
    assert suggestion.team_id == PAYMENTS.id
    assert suggestion.score == round(1 - 0.3 * 0.3, 3)  # 0.91
    assert suggestion.confidence == "high"
    assert [s.kind for s in suggestion.signals] == ["tag", "creator"]


def test_confidence_follows_the_score():
    low = combine([majority_signal("account", "a", {1: 3}, NAMES)])
    medium = combine(tag_signals({"purpose": "payments"}, TEAMS))
    assert (low.score, low.confidence) == (0.4, "low")
    assert (medium.score, medium.confidence) == (0.45, "medium")
    assert combine([]) is None


def evidence(**changes):
    fields = {
        "labels": {},
        "creator": "",
        "namespace": "",
        "account": "",
        "stem": "",
        "creator_tally": {},
        "namespace_tally": {},
        "account_tally": {},
        "name_tally": {},
    }
    return Evidence(**(fields | changes))


def test_suggest_owner_weighs_every_kind_of_evidence():
    assert suggest_owner(evidence(), TEAMS) is None
    # The account says Platform, but the name and the creator say Data Science.
    suggestion = suggest_owner(
        evidence(
            creator="priya",
            creator_tally={2: 5, 3: 1},
            account="acct",
            account_tally={3: 40, 2: 2},
            stem="feature-store",
            name_tally={2: 3},
        ),
        TEAMS,
    )
    assert suggestion.team_id == DATA.id
    assert {s.kind for s in suggestion.signals} == {"creator", "name"}
    assert suggestion.confidence == "high"
