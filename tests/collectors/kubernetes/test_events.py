"""Recent Events as context on workloads: the transform on recorded Events (fixtures/events.yaml)
and the collection against the fake API server."""

import re

import pytest

from collectors.kubernetes.events import RecentEvents, event_time, transform_event
from collectors.runner import run_source
from inventory.models import AccessEvent, Asset, AssetChange, RunStatus, Source

from .conftest import cluster_objects, event_objects
from .test_collect import CHECKOUT, CLUSTER_UID, DEBUG_SHELL, make_source

EVENTS = {e["metadata"]["uid"][-2:]: e for e in event_objects()}
CHECKOUT_POD = "8c000000-0000-4000-8000-000000000c11"
LOG_AGENT = f"k8s://{CLUSTER_UID}/9d000000-0000-4000-8000-000000000e01"
CLEANUP = f"k8s://{CLUSTER_UID}/9d000000-0000-4000-8000-000000000f01"


def test_an_event_keeps_what_happened_when_how_often_and_who_reported_it():
    assert transform_event(EVENTS["03"]) == {
        "at": "2026-11-02T10:40:00+00:00",
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container proxy in pod "
        "checkout-7d4b9c-x7k2p_payments(8c000000-0000-4000-8000-000000000c11)",
        "count": 42,
        "object": "Pod checkout-7d4b9c-x7k2p",
        "reported_by": "kubelet",
    }


def test_a_new_style_event_is_timed_by_its_series_and_reported_by_its_component():
    failed = transform_event(EVENTS["06"])
    assert (failed["at"], failed["count"]) == ("2026-11-02T07:30:00+00:00", 7)
    assert failed["reported_by"] == "daemonset-controller"
    assert event_time({"metadata": {}}) is None


def test_warnings_and_lifecycle_reasons_are_kept_routine_normal_events_are_not():
    kept = {uid: transform_event(e) is not None for uid, e in EVENTS.items()}
    assert kept["01"] and kept["03"] and kept["05"] and kept["07"]  # Pulled, BackOff, Scaling, Kill
    assert not kept["02"] and not kept["04"]  # Started, SuccessfulCreate


def test_only_the_most_recent_events_of_an_object_are_kept_newest_first():
    recent = RecentEvents(limit=3)
    for minute in range(20):
        event = dict(EVENTS["03"], lastTimestamp=f"2026-11-02T10:{minute:02d}:00Z")
        recent.add(event)
    recent.add(dict(EVENTS["01"]))  # 09:00, older than all of them
    kept = recent.for_objects([CHECKOUT_POD])
    assert [e["at"][11:16] for e in kept] == ["10:19", "10:18", "10:17"]
    assert RecentEvents(limit=0).for_objects([CHECKOUT_POD]) == []


@pytest.mark.django_db
def test_workloads_show_the_recent_events_of_themselves_their_replica_sets_and_pods(clusters):
    clusters.start("prod", objects=cluster_objects() + event_objects())
    run = run_source(make_source(clusters))
    assert run.status == RunStatus.SUCCEEDED, run.error

    checkout = Asset.objects.get(key=CHECKOUT).observed["recent_events"]
    assert [(e["reason"], e["object"]) for e in checkout] == [
        ("BackOff", "Pod checkout-7d4b9c-x7k2p"),
        ("Pulled", "Pod checkout-7d4b9c-x7k2p"),
        ("ScalingReplicaSet", "Deployment checkout"),
    ]
    log_agent = Asset.objects.get(key=LOG_AGENT).observed["recent_events"]
    assert [e["reason"] for e in log_agent] == ["FailedCreate"]
    assert "<script>" in log_agent[0]["message"]  # stored as data; escaped on output
    cleanup = Asset.objects.get(key=CLEANUP).observed["recent_events"]  # CronJob → Job → pod
    assert [(e["reason"], e["count"]) for e in cleanup] == [("FailedMount", 3)]
    assert [e["reason"] for e in Asset.objects.get(key=DEBUG_SHELL).observed["recent_events"]] == [
        "Killing"
    ]
    assert "recent_events" not in Asset.objects.get(name="ledger-db").observed
    # Context, not access history: no actor, so never an AccessEvent; volatile, so no history.
    assert not AccessEvent.objects.exists()
    assert not AssetChange.objects.filter(field="observed").exists()

    changes = AssetChange.objects.count()
    again = run_source(Source.objects.get(name="prod"))
    assert (again.changed, AssetChange.objects.count()) == (0, changes)


@pytest.mark.django_db
def test_events_replace_the_old_ones_and_can_be_turned_off(clusters):
    fake = clusters.start("prod", objects=cluster_objects() + event_objects())
    source = make_source(clusters, recent_events=1)
    run_source(source)
    assert [e["reason"] for e in Asset.objects.get(key=CHECKOUT).observed["recent_events"]] == [
        "BackOff"
    ]
    fake.remove("Event", "checkout-7d4b9c-x7k2p.17c0a3", "payments")  # expired by the event TTL
    run_source(source)
    assert [e["reason"] for e in Asset.objects.get(key=CHECKOUT).observed["recent_events"]] == [
        "Pulled"
    ]

    source.config["recent_events"] = 0
    source.save()
    fake.forbidden.add("events")  # not even asked for
    run = run_source(source)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert "recent_events" not in Asset.objects.get(key=CHECKOUT).observed


@pytest.mark.django_db
def test_events_the_reader_may_not_list_fail_the_cluster_scope_and_keep_its_assets(clusters):
    fake = clusters.start("prod", objects=cluster_objects() + event_objects())
    source = make_source(clusters)
    run_source(source)
    fake.forbidden.add("events")
    run = run_source(source)
    assert run.status != RunStatus.SUCCEEDED
    assert "ListEvents" in run.error and "403" in run.error
    assert Asset.objects.filter(key=CHECKOUT, gone_at__isnull=True).exists()


@pytest.mark.django_db
def test_the_asset_timeline_shows_the_events_as_the_clusters_reports_escaped(
    clusters, client, viewer
):
    clusters.start("prod", objects=cluster_objects() + event_objects())
    run_source(make_source(clusters))
    client.force_login(viewer)

    page = client.get(Asset.objects.get(key=LOG_AGENT).get_absolute_url()).content.decode()
    table = page.split('data-testid="timeline"')[1].split("</table>")[0]
    report = table.split('data-kind="report"')[1].split("</tr>")[0]
    assert 'datetime="2026-11-02T07:30:00+00:00"' in report
    assert "FailedCreate" in report and "\u00d77" in report and "daemonset-controller" in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report and "<script>alert" not in page

    page = client.get(Asset.objects.get(key=CHECKOUT).get_absolute_url()).content.decode()
    table = page.split('data-testid="timeline"')[1].split("</table>")[0]
    kinds = re.findall(r'<tr class="timeline-\w+" data-kind="(\w+)"', table)
    assert kinds.count("report") == 3 and "change" in kinds
    times = re.findall(r'datetime="([^"]+)"', table)
    assert times == sorted(times, reverse=True)
