"""SIEM export against real receivers on loopback: a file, a syslog listener over TCP and over
TLS, and an HTTP endpoint — at least once, nothing lost, cursors moved only on acknowledgement."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory import services
from inventory.models import (
    AccessEvent,
    AuditLog,
    ExportCursor,
    ExportDestination,
    Finding,
    FindingStatus,
    TrackingDecision,
)
from inventory.siem import export
from inventory.siem.destinations import ExportFailed
from inventory.tasks import export_siem

from .siem_listeners import SyslogListener, make_ca_and_server_cert

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def settle_at_once(settings):
    """Nothing else writes during a test: every committed record may go at once."""
    settings.DAYLIGHT_SIEM_SETTLE = 0
    settings.DAYLIGHT_SIEM_RESOLVED_SETTLE = 0


@pytest.fixture
def estate(scoped_estate, admin_user):
    """Three assets with an open finding and an access event each; one finding resolved, one
    risk accepted (a tracking decision and an audit entry)."""
    services.accept_risk([scoped_estate["shadow"]], admin_user, "lab only")
    Finding.objects.filter(asset=scoped_estate["plat"]).update(
        status=FindingStatus.RESOLVED, resolved_at=timezone.now()
    )
    return scoped_estate


def expected_ids():
    ids = {f"finding:{pk}:opened" for pk in Finding.objects.values_list("pk", flat=True)}
    ids |= {
        f"finding:{pk}:resolved"
        for pk in Finding.objects.filter(resolved_at__isnull=False).values_list("pk", flat=True)
    }
    ids |= {f"access_event:{pk}" for pk in AccessEvent.objects.values_list("pk", flat=True)}
    ids |= {
        f"tracking_decision:{pk}" for pk in TrackingDecision.objects.values_list("pk", flat=True)
    }
    ids |= {f"audit:{pk}" for pk in AuditLog.objects.values_list("pk", flat=True)}
    return ids


def destination(admin_user, **fields):
    return services.save_config(
        ExportDestination(name=fields.pop("name", "siem"), **fields), admin_user
    )


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_file_destination_appends_every_record_once_then_only_new_ones(
    estate, admin_user, tmp_path
):
    path = tmp_path / "siem.jsonl"
    dest = destination(admin_user, kind="file", path=str(path))
    wanted = expected_ids()  # the destination's own audit entry included

    assert export.export_destination(dest) == len(wanted)
    records = read_lines(path)
    assert {r["id"] for r in records} == wanted and len(records) == len(wanted)
    by_type = {r["type"] for r in records}
    assert by_type == {
        "finding.opened",
        "finding.resolved",
        "access_event",
        "tracking_decision",
        "audit",
    }
    resolved = next(r for r in records if r["type"] == "finding.resolved")
    assert resolved["asset"]["name"] == "plat" and resolved["time"].endswith("Z")
    decision = next(r for r in records if r["type"] == "tracking_decision")
    assert decision["kind"] == "accept" and decision["reason"] == "lab only"
    assert decision["decided_by"] == admin_user.username
    assert all(r["schema"] == "daylight.siem/1" for r in records)

    assert export.export_destination(dest) == 0  # caught up: nothing sent twice
    services.clear_decision([estate["shadow"]], admin_user)
    assert export.export_destination(dest) == 1
    newest = read_lines(path)[-1]
    assert newest["type"] == "audit" and newest["action"] == "asset.clear_decision"
    cursor = ExportCursor.objects.get(destination=dest, stream="audit")
    assert cursor.last_id == AuditLog.objects.order_by("-pk").first().pk
    assert cursor.last_success_at and not cursor.last_error


def test_a_file_it_cannot_write_leaves_the_cursor_and_says_why(estate, admin_user, tmp_path):
    dest = destination(admin_user, kind="file", path=str(tmp_path / "missing" / "siem.jsonl"))
    with pytest.raises(ExportFailed):
        export.export_destination(dest)
    cursor = ExportCursor.objects.get(destination=dest, stream="findings_opened")
    assert cursor.last_id == 0 and "Cannot append" in cursor.last_error

    (tmp_path / "missing").mkdir()
    export.export_destination(dest)
    assert {r["id"] for r in read_lines(tmp_path / "missing" / "siem.jsonl")} == expected_ids()


def test_syslog_over_tcp_sends_rfc5424_frames_with_the_record(estate, admin_user, settings):
    settings.DAYLIGHT_SIEM_BATCH = 4  # several connections, each a batch
    settings.DAYLIGHT_SIEM_HOSTNAME = "daylight-test"
    with SyslogListener() as listener:
        dest = destination(admin_user, kind="syslog", host="127.0.0.1", port=listener.port)
        wanted = expected_ids()
        export.export_destination(dest)
    messages = listener.messages()
    assert len(listener.connections) > 1
    assert {m.record["id"] for m in messages} == wanted and len(messages) == len(wanted)
    for message in messages:
        assert message.app == "daylight" and message.hostname == "daylight-test"
        assert message.sd_id == "daylight@32473"
        assert message.sd["id"] == message.record["id"]
        assert message.sd["type"] == message.record["type"] == message.msgid
        assert message.pri // 8 == 16  # local0
    opened = [m for m in messages if m.msgid == "finding.opened"]
    assert {m.record["severity"] for m in opened} == {"critical"}
    assert {m.pri % 8 for m in opened} == {2}  # critical findings are syslog "critical"
    assert {m.pri % 8 for m in messages if m.msgid == "audit"} == {6}


def test_syslog_over_tls_verifies_the_collector_against_the_configured_ca(
    estate, admin_user, tmp_path
):
    ca_file, server_context = make_ca_and_server_cert(tmp_path)
    with SyslogListener(tls=server_context) as listener:
        # The system's CAs don't know this collector: refused, nothing sent, cursor kept.
        untrusted = destination(
            admin_user,
            name="untrusted",
            kind="syslog",
            host="127.0.0.1",
            port=listener.port,
            tls=True,
        )
        with pytest.raises(ExportFailed, match="CERTIFICATE_VERIFY_FAILED"):
            export.export_destination(untrusted)
        assert not ExportCursor.objects.filter(destination=untrusted).exclude(last_id=0).exists()

        dest = destination(
            admin_user,
            kind="syslog",
            host="127.0.0.1",
            port=listener.port,
            tls=True,
            ca_file=ca_file,
        )
        wanted = expected_ids()
        export.export_destination(dest)
    messages = listener.messages()
    assert {m.record["id"] for m in messages} >= wanted
    assert all(m.sd["id"] == m.record["id"] for m in messages)


def test_syslog_over_tls_refuses_a_certificate_for_another_name(estate, admin_user, tmp_path):
    """Signed by the trusted CA, but for another host: an attacker holding any certificate
    from that CA must not receive the export."""
    ca_file, server_context = make_ca_and_server_cert(tmp_path, names=["siem.example.test"])
    with SyslogListener(tls=server_context) as listener:
        dest = destination(
            admin_user,
            kind="syslog",
            host="127.0.0.1",
            port=listener.port,
            tls=True,
            ca_file=ca_file,
        )
        with pytest.raises(ExportFailed, match="mismatch"):
            export.export_destination(dest)
    assert listener.messages() == []
    assert not ExportCursor.objects.filter(destination=dest).exclude(last_id=0).exists()


def test_http_endpoint_that_fails_first_loses_nothing(
    estate, admin_user, http_receiver, settings, monkeypatch
):
    settings.DAYLIGHT_SIEM_BATCH = 3
    monkeypatch.setenv("SIEM_TOKEN", "s3cret-token")
    dest = destination(
        admin_user, kind="http", url=http_receiver.url + "/ingest", token_env="SIEM_TOKEN"
    )
    wanted = expected_ids()

    http_receiver.statuses = [503]  # down at first
    with pytest.raises(ExportFailed, match="HTTP 503"):
        export.export_destination(dest)
    assert set(ExportCursor.objects.filter(destination=dest).values_list("last_id", flat=True)) == {
        0
    }
    assert ExportCursor.objects.get(destination=dest, stream="findings_opened").last_error

    http_receiver.statuses = [200, 500]  # one batch taken, then a failure mid-stream
    with pytest.raises(ExportFailed):
        export.export_destination(dest)
    cursor = ExportCursor.objects.get(destination=dest, stream="findings_opened")
    first_batch = http_receiver.requests[1].body.decode().splitlines()
    assert cursor.last_id == json.loads(first_batch[-1])["finding_id"]

    export.export_destination(dest)  # recovered: catches up
    received = [
        json.loads(line)
        for request in http_receiver.requests
        for line in request.body.decode().splitlines()
    ]
    assert {r["id"] for r in received} >= wanted  # nothing lost; repeats allowed
    assert all(len(r.body.decode().splitlines()) <= 3 for r in http_receiver.requests)
    assert {r.headers["Authorization"] for r in http_receiver.requests} == {"Bearer s3cret-token"}
    assert {r.headers["Content-Type"] for r in http_receiver.requests} == {"application/x-ndjson"}
    assert "s3cret" not in json.dumps(ExportDestination.objects.get(pk=dest.pk).snapshot())
    assert all(not c.last_error for c in ExportCursor.objects.filter(destination=dest))


def test_records_wait_until_their_ids_have_settled(estate, admin_user, tmp_path, settings):
    settings.DAYLIGHT_SIEM_SETTLE = 120
    settings.DAYLIGHT_SIEM_RESOLVED_SETTLE = 3600
    path = tmp_path / "siem.jsonl"
    dest = destination(
        admin_user, kind="file", path=str(path), streams=["access_events", "findings"]
    )
    now = timezone.now()
    assert export.export_destination(dest, now=now) == 0  # too fresh: a lower id might still commit
    assert export.export_destination(dest, now=now + timedelta(seconds=121)) == 3 + 3
    resolved = export.export_destination(dest, now=now + timedelta(seconds=3601))
    assert resolved == 1
    assert {r["type"] for r in read_lines(path)} == {
        "access_event",
        "finding.opened",
        "finding.resolved",
    }


def test_streams_select_what_is_sent(estate, admin_user, tmp_path):
    path = tmp_path / "audit.jsonl"
    dest = destination(admin_user, kind="file", path=str(path), streams=["audit"])
    export.export_destination(dest)
    assert {r["type"] for r in read_lines(path)} == {"audit"}
    assert list(ExportCursor.objects.filter(destination=dest).values_list("stream", flat=True)) == [
        "audit"
    ]


def test_destinations_are_validated_and_audited(admin_user):
    with pytest.raises(ValidationError) as error:
        destination(
            admin_user, kind="http", url="https://user:pw@siem.example/in", token_env="bad name"
        )
    assert set(error.value.message_dict) == {"url", "token_env"}
    with pytest.raises(ValidationError) as error:
        destination(admin_user, kind="syslog", host="siem", path="/tmp/x", streams=["nope"])
    assert set(error.value.message_dict) == {"port", "path", "streams"}
    dest = destination(admin_user, kind="syslog", host="siem.example", port=6514, tls=True)
    entry = AuditLog.objects.get(action="export_destination.create")
    assert entry.after["host"] == "siem.example" and entry.actor == admin_user
    assert dest.stream_names() == ["findings", "access_events", "decisions", "audit"]


def test_the_scheduled_task_exports_to_every_enabled_destination(
    estate, admin_user, tmp_path, tasks_in_process
):
    on, off = tmp_path / "on.jsonl", tmp_path / "off.jsonl"
    destination(admin_user, name="on", kind="file", path=str(on))
    destination(admin_user, name="off", kind="file", path=str(off), enabled=False)
    assert export_siem.delay().get() == 1
    assert {r["id"] for r in read_lines(on)} >= expected_ids() - {
        f"audit:{pk}"
        for pk in AuditLog.objects.filter(object_repr="off").values_list("pk", flat=True)
    }
    assert not off.exists()


def test_sources_page_shows_admins_each_streams_status(
    estate, admin_user, viewer, client, http_receiver
):
    dest = destination(admin_user, name="splunk", kind="http", url=http_receiver.url)
    http_receiver.statuses = [502]
    with pytest.raises(ExportFailed):
        export.export_destination(dest)

    client.force_login(admin_user)
    page = client.get("/sources/").content.decode()
    assert 'data-testid="siem-export"' in page and "splunk" in page
    assert "The endpoint answered HTTP 502." in page
    assert '<tr data-destination="splunk" data-stream="findings_opened" class="attention">' in page
    assert "/admin/inventory/exportdestination/" in page

    client.force_login(viewer)
    assert 'data-testid="siem-export"' not in client.get("/sources/").content.decode()
