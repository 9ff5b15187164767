"""Servers the tests start on loopback: on a free port of 127.0.0.1, served from a daemon thread
between ``start()`` and ``stop()`` (or for a ``with`` block), then shut down and closed; and the
request handler the fake HTTP services build on."""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from urllib.parse import parse_qs, urlsplit


class ServerThread:
    """Any socketserver server (already bound), served from a daemon thread."""

    def __init__(self, server: BaseServer, *, poll_interval: float = 0.5):
        self.server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, args=(poll_interval,), daemon=True
        )

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class LocalHTTPServer(ServerThread):
    """A ThreadingHTTPServer answering with ``handler``; HTTPS when given a server SSLContext.
    ``url`` is its base URL, known before it starts."""

    def __init__(self, handler, *, tls: ssl.SSLContext | None = None, poll_interval=0.5):
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        super().__init__(server, poll_interval=poll_interval)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"


class QuietHandler(BaseHTTPRequestHandler):
    """Keeps the access log out of the test output; reads and answers requests as the fakes do."""

    def log_message(self, *args):
        pass

    def target(self) -> tuple[str, dict]:
        """The request's path, and its query parameters (the first value of each)."""
        url = urlsplit(self.path)
        return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, data: bytes, content_type: str, headers=None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status: int, payload, headers=None, content_type="application/json"):
        self.reply(status, json.dumps(payload).encode(), content_type, headers)


def throttled(throttle: dict[str, int], path: str) -> bool:
    """Whether the fake answers this request 429: ``throttle`` maps a path fragment to how many
    more requests whose path holds it are refused. Each refusal uses one up."""
    for fragment, remaining in throttle.items():
        if fragment in path and remaining > 0:
            throttle[fragment] = remaining - 1
            return True
    return False
