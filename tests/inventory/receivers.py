"""Real receivers for notifications, on loopback and free ports, started and stopped by the test:
an HTTP server that records what is posted and answers with scripted statuses, and an SMTP
server (aiosmtpd) that keeps the messages it accepts."""

import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.servers import LocalHTTPServer, QuietHandler


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return {k.lower(): v for k, v in self.headers.items()}[name.lower()]

    def signed_with(self, secret: bytes, max_age: int = 300) -> bool:
        """The receiver's check as the README gives it, written out here rather than calling
        Daylight's own signing code: a change to what is signed fails the test instead of
        agreeing with itself. Old timestamps are refused, as the README advises."""
        timestamp = self.header("X-Daylight-Timestamp")
        expected = (
            "sha256="
            + hmac.new(secret, timestamp.encode() + b"." + self.body, hashlib.sha256).hexdigest()
        )
        fresh = abs(time.time() - int(timestamp)) <= max_age
        return fresh and hmac.compare_digest(expected, self.header("X-Daylight-Signature"))


@dataclass
class HttpReceiver:
    """Answers each POST with the next scripted status (then ``default``) and records it."""

    url: str
    statuses: list = field(default_factory=list)
    default: int = 200
    requests: list = field(default_factory=list)

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.default


@pytest.fixture
def http_receiver():
    receiver = HttpReceiver(url="")

    class Handler(QuietHandler):
        def do_POST(self):
            body = self.read_body()
            receiver.requests.append(Received(self.path, dict(self.headers), body))
            status = receiver.answer()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with LocalHTTPServer(Handler) as server:
        receiver.url = server.url
        yield receiver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpInbox:
    """An aiosmtpd handler: accepts messages (or refuses them while ``refuse`` is set)."""

    def __init__(self):
        self.messages = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 Try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    """A local SMTP server, with Django's SMTP backend pointed at it."""
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def tasks_in_process(settings):
    """Run tasks here, as the embedded default does, even when the suite has a broker: these
    tests look at what a task does; test_notification_worker.py sends them through one."""
    from config.celery import app

    was = app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = was
