"""Turning collector records into bounded rows."""

from datetime import UTC, datetime

import pytest

from collectors.records import AccessRecord, Endpoint
from inventory.normalize import (
    MAX_LABELS,
    MAX_LIST,
    InvalidRecord,
    asset_row,
    clean_json,
    clean_text,
    event_row,
    fingerprints,
)
from tests.conftest import asset


def test_fingerprints_ignore_label_order_and_track_durable_vs_volatile():
    a = asset_row(asset("k", labels={"a": "1", "b": "2"}, state="running"))
    b = asset_row(asset("k", labels={"b": "2", "a": "1"}, state="stopped"))
    assert a["durable_hash"] == b["durable_hash"]
    assert a["volatile_hash"] != b["volatile_hash"]
    c = asset_row(asset("k", labels={"a": "1", "b": "3"}))
    assert c["durable_hash"] != a["durable_hash"]


def test_strings_are_bounded_to_their_columns():
    row = asset_row(asset("k" * 2000, name="n" * 1000, region="r" * 500))
    assert len(row["key"]) == 512 and len(row["name"]) == 255 and len(row["region"]) == 64
    assert row["name"].endswith("…")


def test_nul_and_lone_surrogates_become_storable():
    assert clean_text("a\x00b") == "a\ufffdb"
    assert clean_text("x\ud800y").encode("utf-8")


def test_label_count_and_nested_json_are_bounded():
    row = asset_row(asset("k", labels={f"k{i}": "v" for i in range(1000)}))
    assert len(row["labels"]) == MAX_LABELS
    deep = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": 1}}}}}}}}}}
    flattened = clean_json(deep)
    assert "…" in str(flattened)
    assert len(clean_json(list(range(10_000)))) == MAX_LIST


def test_endpoints_are_stored_as_mappings():
    row = asset_row(asset("k", endpoints=[Endpoint("https://x", True, "none", "url")]))
    assert row["endpoints"] == [
        {"address": "https://x", "public": True, "auth": "none", "via": "url"}
    ]


def test_missing_name_falls_back_to_key():
    assert asset_row(asset("arn:thing", name=""))["name"] == "arn:thing"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"key": ""}, "without a key"),
        ({"labels": ["not", "a", "mapping"]}, "labels must be a mapping"),
        ({"created_at": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_malformed_records_raise_clear_errors(fields, message):
    record = asset("k")
    for name, value in fields.items():
        setattr(record, name, value)
    with pytest.raises(InvalidRecord, match=message):
        asset_row(record)


def test_event_rows_need_an_id_and_aware_time():
    when = datetime(2026, 1, 1, tzinfo=UTC)
    row = event_row(AccessRecord("e1", "aws", when, "Create", actor="a" * 1000))
    assert len(row["actor"]) == 255
    with pytest.raises(InvalidRecord, match="event id"):
        event_row(AccessRecord("", "aws", when, "Create"))
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        event_row(AccessRecord("e2", "aws", datetime(2026, 1, 1), "Create"))


def test_fingerprints_do_not_depend_on_set_order():
    one = fingerprints(asset("k", security={"capabilities_added": {"NET_ADMIN", "SYS_TIME"}}))
    other = fingerprints(asset("k", security={"capabilities_added": {"SYS_TIME", "NET_ADMIN"}}))
    assert one == other


@pytest.mark.parametrize(
    "labels",
    [
        {"x\ud800": "lone surrogate in a key"},
        {("a", "tuple"): "a key JSON cannot hold"},
    ],
)
def test_records_json_cannot_encode_are_fingerprinted_as_stored(labels):
    record = asset("k", labels=labels)
    durable, volatile = fingerprints(record)
    row = asset_row(record)
    assert (row["durable_hash"], row["volatile_hash"]) == (durable, volatile)
    assert durable == fingerprints(asset("k", labels=labels))[0]
    assert durable != fingerprints(asset("k"))[0]


def test_absurdly_nested_attributes_are_fingerprinted_as_stored():
    nested: dict = {}
    for _ in range(400):
        nested = {"n": nested}
    durable, _ = fingerprints(asset("k", attributes=nested))
    shallower = {"n": {"n": {"n": {"n": {"n": {"n": {"n": {"n": "…"}}}}}}}}
    assert durable != fingerprints(asset("k"))[0]
    assert asset_row(asset("k", attributes=nested))["attributes"] == shallower
