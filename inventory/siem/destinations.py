"""Sending a batch of JSON lines to a destination. Each function returns only once the
destination has acknowledged the whole batch — the file written and fsync'd, the TCP send
completed, the HTTP endpoint's 2xx — and raises ExportFailed otherwise."""

import os
import socket
import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime

from django.conf import settings

from inventory.models import ExportDestination

Kind = ExportDestination.Kind
APP_NAME = "daylight"
# Structured data ID under the example enterprise number of RFC 5612 (32473): documented, and
# never in conflict with a registered one.
SD_ID = "daylight@32473"
FACILITY_LOCAL0 = 16
SEVERITIES = {"critical": 2, "high": 3, "medium": 4, "low": 5, "info": 6}  # RFC 5424 levels
INFORMATIONAL = 6


class ExportFailed(Exception):
    """The destination did not acknowledge the batch; the cursor stays where it was."""


def send(destination: ExportDestination, records: list[dict], lines: list[bytes]) -> None:
    if destination.kind == Kind.FILE:
        append_to_file(destination.path, lines)
    elif destination.kind == Kind.SYSLOG:
        frames = [syslog_frame(record, body) for record, body in zip(records, lines, strict=True)]
        send_syslog(destination, frames)
    elif destination.kind == Kind.HTTP:
        post_lines(destination, b"".join(lines))
    else:
        raise ExportFailed(f"Unknown destination kind {destination.kind!r}.")


# --- file -------------------------------------------------------------------------------------


def append_to_file(path: str, lines: list[bytes]) -> None:
    """Opened afresh for every batch, so the operator may rename the file to rotate it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            data = memoryview(b"".join(lines))
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ExportFailed(f"Cannot append to {path}: {exc.strerror or exc}") from None


# --- syslog (RFC 5424 over TCP, RFC 6587 octet counting) ----------------------------------------


def _sd_value(value: str) -> str:
    """RFC 5424 §6.3.3: escape '"', '\\' and ']' in a parameter value."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_frame(record: dict, body: bytes) -> bytes:
    """One RFC 5424 message, framed by its length in octets (RFC 6587 §3.4.1)."""
    severity = SEVERITIES.get(record.get("severity"), INFORMATIONAL)
    if record["type"] != "finding.opened":
        severity = INFORMATIONAL
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    hostname = (settings.DAYLIGHT_SIEM_HOSTNAME or socket.gethostname() or "-")[:255]
    structured = (
        f'[{SD_ID} id="{_sd_value(record["id"])}" type="{_sd_value(record["type"])}" '
        f'time="{_sd_value(record["time"] or "")}"]'
    )
    header = (
        f"<{FACILITY_LOCAL0 * 8 + severity}>1 {now} {hostname} {APP_NAME} - "
        f"{record['type'][:32]} {structured} "
    )
    # The message is the JSON line without its newline, marked as UTF-8 by a BOM (§6.4).
    message = header.encode("ascii", "replace") + b"\xef\xbb\xbf" + body.rstrip(b"\n")
    return str(len(message)).encode() + b" " + message


def _tls_context(destination: ExportDestination) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=destination.ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context  # verifies the certificate chain and the host name


def send_syslog(destination: ExportDestination, frames: list[bytes]) -> None:
    timeout = settings.DAYLIGHT_SIEM_TIMEOUT
    try:
        with socket.create_connection((destination.host, destination.port), timeout) as raw:
            if destination.tls:
                with _tls_context(destination).wrap_socket(
                    raw, server_hostname=destination.host
                ) as sock:
                    sock.sendall(b"".join(frames))
            else:
                raw.sendall(b"".join(frames))
                raw.shutdown(socket.SHUT_WR)
    except (OSError, ssl.SSLError) as exc:
        raise ExportFailed(
            f"Syslog {destination.host}:{destination.port}: {type(exc).__name__}: {exc}"
        ) from None


# --- HTTP ---------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the bearer token somewhere the admin did not configure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post_lines(destination: ExportDestination, body: bytes) -> None:
    headers = {"Content-Type": "application/x-ndjson", "User-Agent": "Daylight-SIEM/1"}
    if destination.token_env:
        token = os.environ.get(destination.token_env, "")
        if not token:
            raise ExportFailed(f"The environment variable {destination.token_env} is not set.")
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(destination.url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=settings.DAYLIGHT_SIEM_TIMEOUT) as response:
            response.read(1024)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise ExportFailed(f"The endpoint answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ExportFailed(f"Cannot reach the endpoint: {getattr(exc, 'reason', exc)}") from None
    if not 200 <= status < 300:
        raise ExportFailed(f"The endpoint answered HTTP {status}.")
