"""Real SIEM receivers on loopback, started and stopped by the test: a TCP syslog listener
(plain or TLS) that splits RFC 6587 octet-counted frames and parses RFC 5424 messages, and a
certificate authority made on the spot with ``cryptography``."""

import ipaddress
import json
import re
import selectors
import socketserver
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.servers import ServerThread

HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app>\S+) (?P<procid>\S+) "
    rb"(?P<msgid>\S+) (?P<sd>-|\[.*?(?<!\\)\]) \xef\xbb\xbf(?P<msg>.*)$",
    re.DOTALL,
)
SD_ELEMENT = re.compile(r'^\[(?P<id>\S+)(?P<params>(?: \w+="(?:[^"\\]|\\.)*")*)\]$')
SD_PARAM = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class SyslogMessage:
    pri: int
    hostname: str
    app: str
    msgid: str
    sd_id: str
    sd: dict
    record: dict


def split_frames(data: bytes) -> list[bytes]:
    """RFC 6587 §3.4.1: MSG-LEN SP SYSLOG-MSG, repeated; anything malformed fails the test."""
    frames = []
    while data:
        length, rest = data.split(b" ", 1)
        assert length.isdigit(), f"not an octet count: {length[:20]!r}"
        frames.append(rest[: int(length)])
        assert len(frames[-1]) == int(length), "a truncated frame"
        data = rest[int(length) :]
    return frames


def parse_message(frame: bytes) -> SyslogMessage:
    match = HEADER.match(frame)
    assert match, f"not an RFC 5424 message: {frame[:120]!r}"
    element = SD_ELEMENT.match(match["sd"].decode())
    assert element, f"malformed structured data: {match['sd'][:120]!r}"
    params = {
        name: re.sub(r"\\(.)", r"\1", value) for name, value in SD_PARAM.findall(element["params"])
    }
    datetime.fromisoformat(match["timestamp"].decode().replace("Z", "+00:00"))
    return SyslogMessage(
        pri=int(match["pri"]),
        hostname=match["hostname"].decode(),
        app=match["app"].decode(),
        msgid=match["msgid"].decode(),
        sd_id=element["id"],
        sd=params,
        record=json.loads(match["msg"]),
    )


class SyslogListener(ServerThread):
    """Accepts connections on 127.0.0.1, keeps each connection's bytes; ``messages`` parses
    them. With ``tls`` (an SSLContext) it is a TLS server."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.connections: list[bytes] = []
        listener = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 10  # a client that never closes fails the test instead of hanging it

            def handle(self):
                listener.connections.append(self.rfile.read())

        class Server(socketserver.ThreadingTCPServer):
            # Not daemon threads: server_close() then waits for every connection's handler, so
            # what a client sent is all there when the test reads it (under load it was not).
            daemon_threads = False
            block_on_close = True
            # Every connection the export makes must wait in the kernel's queue, not be dropped
            # when the server thread is slow to accept (the default backlog is 5).
            request_queue_size = 128

            def get_request(self):
                sock, address = super().get_request()
                return (tls.wrap_socket(sock, server_side=True) if tls else sock), address

            def server_close(self):
                self.accept_queued()
                super().server_close()  # waits for every connection's handler

            def accept_queued(self):
                """serve_forever stops without accepting what is still in the kernel's queue,
                yet those clients have connected, sent and closed: the export counts that as
                delivered. Under load the server thread had not yet accepted the last batch's
                connection, and it was lost."""
                with selectors.DefaultSelector() as selector:
                    selector.register(self.socket, selectors.EVENT_READ)
                    while selector.select(timeout=0):
                        self.handle_request()

        super().__init__(Server(("127.0.0.1", 0), Handler))

    def messages(self) -> list[SyslogMessage]:
        return [parse_message(f) for data in self.connections for f in split_frames(data)]


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alternative_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_ca_and_server_cert(
    directory, names=("localhost", "127.0.0.1")
) -> tuple[str, ssl.SSLContext]:
    """A CA and a server certificate it signed for ``names`` (127.0.0.1 and localhost unless
    told). Returns the CA file's path and a server SSLContext holding the certificate."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Daylight test CA"))
        .issuer_name(_name("Daylight test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([_alternative_name(name) for name in names]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return str(ca_path), context
