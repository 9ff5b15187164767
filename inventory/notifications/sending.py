"""One attempt at sending a Delivery to its channel, and what the outcome means for it.

The Celery task (inventory.tasks.deliver_notification) retries the failures worth retrying —
a receiver that answers 5xx or 429, a timeout, a refused connection, an SMTP error — with
exponential backoff; the last attempt, or one that no retry can fix (a 4xx, a missing
environment variable), records the delivery as failed. A delivery already sent is never sent
again. Delivery is at least once: receivers can drop a repeated ``X-Daylight-Delivery`` id.
"""

import logging
import os
import urllib.error
import urllib.request
from smtplib import SMTPException
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.utils import timezone

from inventory.models import Delivery, NotificationChannel

from . import formats

logger = logging.getLogger(__name__)
Kind = NotificationChannel.Kind
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
MAX_ERROR = 1000


class DeliveryFailed(Exception):
    """A failed attempt another attempt may fix."""


class Undeliverable(Exception):
    """A failure no retry will fix, until someone changes the configuration."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver that redirects is misconfigured; following it could post the signed body
    somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def attempt(delivery_id: int, *, final: bool) -> Delivery | None:
    """Try to send the delivery once. Raises DeliveryFailed when it should be retried; records
    it failed instead when ``final`` or when retrying can't help."""
    delivery = (
        Delivery.objects.select_related("channel", "rule__team").filter(pk=delivery_id).first()
    )
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return delivery  # sent already (a retried or duplicated task), or given up on
    Delivery.objects.filter(pk=delivery.pk).update(
        attempts=delivery.attempts + 1, last_attempt_at=timezone.now()
    )
    delivery.attempts += 1
    try:
        send(delivery)
    except Undeliverable as exc:
        return _record(delivery, Delivery.Status.FAILED, str(exc))
    except DeliveryFailed as exc:
        if final:
            return _record(delivery, Delivery.Status.FAILED, str(exc))
        _record(delivery, Delivery.Status.PENDING, str(exc))
        raise
    return _record(delivery, Delivery.Status.SENT, "")


def deliver_in_process(delivery_id: int, retries: int | None = None) -> Delivery | None:
    """Without a broker (the embedded default) there is no queue to wait in: the attempts a
    worker would make, made at once, the last failure recorded."""
    retries = settings.DAYLIGHT_NOTIFY_RETRIES if retries is None else retries
    for number in range(retries + 1):
        try:
            return attempt(delivery_id, final=number == retries)
        except DeliveryFailed:
            continue
    return None


def _record(delivery: Delivery, status: str, error: str) -> Delivery:
    delivery.status, delivery.last_error = status, error[:MAX_ERROR]
    if status == Delivery.Status.SENT:
        delivery.sent_at = timezone.now()
    elif status == Delivery.Status.FAILED:
        logger.warning(
            "notification delivery %s failed after %s attempts: %s",
            delivery.pk,
            delivery.attempts,
            delivery.last_error,
        )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=delivery.status, last_error=delivery.last_error, sent_at=delivery.sent_at
    )
    return delivery


def send(delivery: Delivery) -> None:
    channel = delivery.channel
    if channel is None:
        raise Undeliverable("The channel was deleted.")
    if not channel.enabled:
        raise Undeliverable(f"The channel {channel.name} is disabled.")
    if channel.kind == Kind.EMAIL:
        send_email(delivery, channel)
        return
    url = _url(channel)
    if channel.kind == Kind.SLACK:
        body = formats.json_bytes(formats.slack_message(delivery.payload))
        headers = {}
    elif channel.kind == Kind.TEAMS:
        body = formats.json_bytes(formats.teams_message(delivery.payload))
        headers = {}
    else:
        created = delivery.created_at.isoformat() if delivery.created_at else ""
        body = formats.webhook_body(delivery.pk, delivery.payload, created)
        headers = formats.webhook_headers(delivery.pk, delivery.event, body, _secret(channel))
    post(url, body, headers)


def _env(name: str, what: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise Undeliverable(f"The environment variable {name} ({what}) is not set.")
    return value


def _url(channel: NotificationChannel) -> str:
    return channel.url or _env(channel.url_env, "the channel's URL")


def _secret(channel: NotificationChannel) -> bytes | None:
    return _env(channel.secret_env, "the signing key").encode() if channel.secret_env else None


def post(url: str, body: bytes, headers: dict) -> None:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Daylight-notifications/1",
            **headers,
        },
    )
    try:
        with _opener.open(request, timeout=settings.DAYLIGHT_NOTIFY_TIMEOUT) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        message = f"The receiver answered HTTP {exc.code}."
        if exc.code in RETRYABLE_STATUS:
            raise DeliveryFailed(message) from None
        raise Undeliverable(message) from None
    except (urllib.error.URLError, OSError) as exc:
        # The URL may be a secret (Slack's, Teams'): say what failed without repeating it.
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"Cannot reach the receiver: {redact(str(reason), url)}") from None


def redact(message: str, url: str) -> str:
    parts = urlsplit(url)
    for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.query):
        if secret and secret != "/":
            message = message.replace(secret, "…")
    return message


def recipients(delivery: Delivery, channel: NotificationChannel) -> list[str]:
    if channel.recipients.strip():
        return channel.recipient_list()
    team = delivery.rule.team if delivery.rule else None
    if team is None:
        raise Undeliverable("The channel sends to the rule's team, and the rule has no team.")
    try:
        validate_email(team.contact)
    except ValidationError:
        raise Undeliverable(f"The team {team.name} has no e-mail contact.") from None
    return [team.contact]


def send_email(delivery: Delivery, channel: NotificationChannel) -> None:
    text, html = formats.email_bodies(delivery.payload)
    message = EmailMultiAlternatives(
        subject=formats.email_subject(delivery.payload),
        body=text,
        to=recipients(delivery, channel),
        headers={formats.DELIVERY_HEADER: str(delivery.pk)},
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (SMTPException, OSError) as exc:
        raise DeliveryFailed(f"Cannot send the e-mail: {type(exc).__name__}: {exc}") from None
