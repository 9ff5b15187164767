"""Sending deliveries to real receivers on loopback: a local HTTP server that checks the HMAC
signature, and a local SMTP server behind Django's SMTP backend.

Without a broker (these tests, the embedded default) a delivery's attempts are made in-process
one after the other (``queue_delivery``); with one, Celery's autoretry spaces them with
exponential backoff — test_notification_worker.py runs that against a real worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.tasks import collect_source
from inventory.models import Delivery, NotificationChannel, NotificationRule, Source, Team
from inventory.notifications import events, formats, sending
from inventory.tasks import deliver_notification, requeue_deliveries
from tests.inventory.receivers import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]
SECRET = "correct-horse-signing-key"


@pytest.fixture
def max_retries(settings):
    settings.DAYLIGHT_NOTIFY_RETRIES = 2
    return 2


def deliver(delivery):
    """What creating a delivery queues once its transaction commits."""
    events.queue_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def make_delivery(channel, *, rule=None, key="run:1", **payload):
    document = {
        "event": "exposed",
        "event_label": "Asset became internet-exposed",
        "title": "1 asset became internet-exposed in prod",
        "count": 1,
        "items": [
            {"name": "<b>api</b>", "url": "http://localhost:8000/assets/1/", "detail": "aws"}
        ],
        "more": 0,
        "link": "http://localhost:8000/assets/?exposed=yes",
        **payload,
    }
    return Delivery.objects.create(
        rule=rule,
        channel=channel,
        event="exposed",
        key=key,
        title=document["title"],
        payload=document,
    )


def webhook(url, **fields):
    return NotificationChannel.objects.create(name="hook", kind="webhook", url=url, **fields)


def test_a_signed_webhook_reaches_the_receiver_and_verifies(http_receiver, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    channel = webhook(http_receiver.url + "/daylight", secret_env="TEST_HOOK_SECRET")
    delivery = make_delivery(channel)

    assert deliver_notification.delay(delivery.pk).get() == Delivery.Status.SENT

    (request,) = http_receiver.requests
    assert request.path == "/daylight"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert request.signed_with(SECRET.encode())
    assert not request.signed_with(b"wrong")
    assert headers["x-daylight-delivery"] == str(delivery.pk)
    assert headers["content-type"].startswith("application/json")
    body = request.json()
    assert body["delivery"] == delivery.pk and body["items"][0]["name"] == "<b>api</b>"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
    assert delivery.sent_at is not None


def test_a_receiver_that_fails_once_gets_the_retry(http_receiver, max_retries):
    http_receiver.statuses = [500]
    delivery = make_delivery(webhook(http_receiver.url))

    events.queue_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert [delivery.status, delivery.attempts, delivery.last_error] == ["sent", 2, ""]
    assert len(http_receiver.requests) == 2


def test_a_receiver_that_always_fails_ends_in_a_recorded_failure(http_receiver, max_retries):
    http_receiver.default = 503
    delivery = make_delivery(webhook(http_receiver.url))

    assert deliver(delivery).status == Delivery.Status.FAILED

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == max_retries + 1 == len(http_receiver.requests)
    assert delivery.last_error == "The receiver answered HTTP 503."
    assert delivery.sent_at is None


def test_a_client_error_is_not_retried(http_receiver, max_retries):
    http_receiver.default = 404
    delivery = make_delivery(webhook(http_receiver.url))
    deliver_notification.delay(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert len(http_receiver.requests) == 1


def test_the_attempt_itself_retries_until_the_last_then_records_failure(http_receiver):
    http_receiver.default = 500
    delivery = make_delivery(webhook(http_receiver.url))

    with pytest.raises(sending.DeliveryFailed):
        sending.attempt(delivery.pk, final=False)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "The receiver answered HTTP 500."

    sending.attempt(delivery.pk, final=True)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)


def test_a_delivery_already_sent_is_never_sent_again(http_receiver):
    delivery = make_delivery(webhook(http_receiver.url))
    sending.attempt(delivery.pk, final=False)
    deliver_notification.delay(delivery.pk)  # a duplicated or retried task
    sending.attempt(delivery.pk, final=True)
    assert len(http_receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_an_unreachable_receiver_is_retried_and_its_secret_url_never_recorded(
    monkeypatch, max_retries
):
    secret_url = f"http://127.0.0.1:{free_port()}/services/T000/B000/XoXoSeCrEt"
    monkeypatch.setenv("TEST_SLACK_URL", secret_url)
    channel = NotificationChannel.objects.create(name="s", kind="slack", url_env="TEST_SLACK_URL")
    delivery = make_delivery(channel)

    events.queue_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.last_error.startswith("Cannot reach the receiver")
    assert "XoXoSeCrEt" not in delivery.last_error and "T000" not in delivery.last_error


def test_a_missing_environment_variable_fails_at_once_naming_only_the_variable(
    http_receiver, monkeypatch
):
    monkeypatch.delenv("TEST_MISSING_SECRET", raising=False)
    channel = webhook(http_receiver.url, secret_env="TEST_MISSING_SECRET")
    delivery = make_delivery(channel)
    deliver_notification.delay(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "TEST_MISSING_SECRET" in delivery.last_error
    assert http_receiver.requests == []


@pytest.mark.parametrize("kind", ["slack", "teams"])
def test_slack_and_teams_messages_reach_their_url_from_the_environment(
    kind, http_receiver, monkeypatch
):
    monkeypatch.setenv("TEST_CHAT_URL", http_receiver.url + "/hook/secret-path")
    channel = NotificationChannel.objects.create(name=kind, kind=kind, url_env="TEST_CHAT_URL")
    delivery = make_delivery(channel)

    deliver_notification.delay(delivery.pk)

    (request,) = http_receiver.requests
    assert request.path == "/hook/secret-path"
    assert "x-daylight-signature" not in {k.lower() for k in request.headers}
    expected = (formats.slack_message if kind == "slack" else formats.teams_message)(
        delivery.payload
    )
    assert request.json() == expected
    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_email_goes_to_the_listed_addresses_through_smtp(smtp_server):
    channel = NotificationChannel.objects.create(
        name="mail", kind="email", recipients="secops@example.com, ciso@example.com"
    )
    delivery = make_delivery(channel)

    deliver_notification.delay(delivery.pk)

    ((recipients, message),) = smtp_server.messages
    assert recipients == ["secops@example.com", "ciso@example.com"]
    assert message["Subject"] == "[Daylight] 1 asset became internet-exposed in prod"
    assert message["X-Daylight-Delivery"] == str(delivery.pk)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "<b>api</b>" in text
    assert "&lt;b&gt;api&lt;/b&gt;" in html and "<b>api</b>" not in html
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_email_without_addresses_goes_to_the_rules_team_contact(smtp_server):
    team = Team.objects.create(name="Payments", slug="payments", contact="pay@example.com")
    channel = NotificationChannel.objects.create(name="team-mail", kind="email")
    rule = NotificationRule.objects.create(name="r", event="exposed", team=team, channel=channel)
    deliver_notification.delay(make_delivery(channel, rule=rule).pk)
    ((recipients, _),) = smtp_server.messages
    assert recipients == ["pay@example.com"]


def test_a_team_without_an_email_contact_is_a_recorded_failure(smtp_server):
    team = Team.objects.create(name="Search", slug="search", contact="#search-oncall")
    channel = NotificationChannel.objects.create(name="team-mail", kind="email")
    rule = NotificationRule.objects.create(name="r", event="exposed", team=team, channel=channel)
    delivery = make_delivery(channel, rule=rule)
    deliver_notification.delay(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "Search has no e-mail contact" in delivery.last_error
    assert smtp_server.messages == []


def test_an_smtp_server_that_refuses_once_gets_the_retry(smtp_server, max_retries):
    smtp_server.refuse = 1
    channel = NotificationChannel.objects.create(name="m", kind="email", recipients="a@example.com")
    delivery = make_delivery(channel)
    events.queue_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert len(smtp_server.messages) == 1


def test_a_collection_ends_in_a_delivered_digest(
    http_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    """The whole path: the collect task runs the demo estate, derives the digest from what the
    run wrote, and the webhook receiver gets it signed."""
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    channel = webhook(http_receiver.url, secret_env="TEST_HOOK_SECRET")
    NotificationRule.objects.create(name="shadow", event="new_untracked", channel=channel)
    source = Source.objects.create(name="demo", provider="demo", config={"seed": 2})

    with django_capture_on_commit_callbacks(execute=True):
        run_id = collect_source.delay(source.pk).get()

    delivery = Delivery.objects.get()
    assert delivery.key == f"run:{run_id}" and delivery.status == "sent"
    (request,) = http_receiver.requests
    assert request.signed_with(SECRET.encode())
    body = request.json()
    assert body["count"] == source.assets.filter(tracking="untracked").count() > 0
    assert body["title"].endswith("new untracked assets in demo")
    assert body["run_url"].endswith(f"/sources/runs/{run_id}/")


def test_pending_deliveries_whose_task_was_lost_are_queued_again(http_receiver):
    channel = webhook(http_receiver.url)
    stranded, recent = make_delivery(channel), make_delivery(channel, key="run:2")
    long_ago = timezone.now() - timedelta(days=1)
    Delivery.objects.filter(pk=stranded.pk).update(created_at=long_ago)

    assert requeue_deliveries() == 1

    stranded.refresh_from_db()
    recent.refresh_from_db()
    assert (stranded.status, recent.status) == ("sent", "pending")
    assert [r.json()["delivery"] for r in http_receiver.requests] == [stranded.pk]
