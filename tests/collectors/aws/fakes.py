"""Local HTTP servers the AWS tests talk to through boto3, besides moto.

``FakeCloudTrail`` answers ``LookupEvents`` in CloudTrail's documented JSON shape (moto does not
implement it): events per region, filtered by time window and event source, newest first, paged
by ``NextToken``. ``AccessGate`` stands in front of moto and answers AccessDenied for the
services and regions it is told to deny, and for ``sts:AssumeRole`` of the roles it is told to
deny (moto lets anyone assume any role), passing every other request through unchanged.
"""

import http.client
import json
import re
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from tests.servers import LocalHTTPServer, QuietHandler

# "Credential=AKID/20261122/eu-west-1/lambda/aws4_request"
CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def signed_scope(headers) -> tuple[str, str, str]:
    """(access key id, region, signing service) of a SigV4-signed request."""
    match = CREDENTIAL.search(headers.get("Authorization", ""))
    return match.groups() if match else ("", "", "")


class _Server(LocalHTTPServer):
    """A local HTTP server whose handlers reach the fake as ``self.server.owner``."""

    def __init__(self, handler):
        super().__init__(handler)
        self.server.owner = self


class _CloudTrailHandler(QuietHandler):
    def do_POST(self):
        body = json.loads(self.read_body() or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        trail = self.server.owner
        access_key, region, _ = signed_scope(self.headers)
        if not target.endswith(".LookupEvents"):
            return self._reply(400, {"__type": "UnknownOperationException", "message": target})
        trail.requests.append({"region": region, "access_key": access_key, **body})
        if region in trail.denied_regions:
            return self._reply(
                400, {"__type": "AccessDeniedException", "message": "not authorized (test)"}
            )
        self._reply(200, trail.page(access_key, region, body))

    def _reply(self, status, payload):
        self.send_json(status, payload, content_type="application/x-amz-json-1.1")


class FakeCloudTrail(_Server):
    """CloudTrail's LookupEvents over events a test puts in, for one caller's access key."""

    def __init__(self, access_key="testing", page_size=2):
        super().__init__(_CloudTrailHandler)
        self.access_key = access_key
        self.page_size = page_size  # small, so that every test pages
        self.events: dict[str, list[dict]] = {}
        self.requests: list[dict] = []
        self.denied_regions: set[str] = set()

    def reset(self):
        self.events.clear()
        self.requests.clear()
        self.denied_regions.clear()

    def add(self, region: str, **event):
        """An event as LookupEvents returns it; ``EventTime`` a datetime, ``CloudTrailEvent``
        a dict (it is sent as the JSON string AWS sends)."""
        self.events.setdefault(region, []).append(event)

    def page(self, access_key: str, region: str, body: dict) -> dict:
        if access_key != self.access_key:
            return {"Events": []}
        start = body.get("StartTime", 0)
        end = body.get("EndTime", float("inf"))
        sources = {
            a["AttributeValue"]
            for a in body.get("LookupAttributes", [])
            if a["AttributeKey"] == "EventSource"
        }
        matching = sorted(
            (
                e
                for e in self.events.get(region, [])
                if start <= e["EventTime"].timestamp() <= end
                and (not sources or e["EventSource"] in sources)
            ),
            key=lambda e: e["EventTime"],
            reverse=True,
        )
        offset = int(body.get("NextToken") or 0)
        size = min(self.page_size, body.get("MaxResults") or 50)
        chosen = matching[offset : offset + size]
        answer = {"Events": [self._wire(e) for e in chosen]}
        if offset + size < len(matching):
            answer["NextToken"] = str(offset + size)
        return answer

    @staticmethod
    def _wire(event: dict) -> dict:
        wire = {**event, "EventTime": event["EventTime"].timestamp()}
        wire["CloudTrailEvent"] = json.dumps(event.get("CloudTrailEvent", {}))
        return wire


class _GateHandler(QuietHandler):
    def _relay(self):
        gate = self.server.owner
        body = self.read_body()
        _, region, service = signed_scope(self.headers)
        role = self._role_to_assume(service, body)
        if role in gate.denied_roles:
            gate.refused.append((service, region, f"AssumeRole {role}"))
            message = (
                f"User: arn:aws:sts::123456789012:assumed-role/test/daylight is not authorized "
                f"to perform: sts:AssumeRole on resource: {role}"
            )
            return self._query_error(403, "AccessDenied", message)
        if (service, region) in gate.denied:
            gate.refused.append((service, region, self.headers.get("X-Amz-Target", self.path)))
            return self._error(403, "AccessDeniedException", "User is not authorized (test gate)")
        if gate.throttled.get((service, region), 0) > 0:
            gate.throttled[(service, region)] -= 1
            gate.refused.append((service, region, "throttled"))
            return self._error(429, "TooManyRequestsException", "Rate exceeded (test gate)")
        upstream = http.client.HTTPConnection(gate.upstream_host, gate.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in (
                "content-length",
                "transfer-encoding",
                "connection",
                "server",
                "date",
            ):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    @staticmethod
    def _role_to_assume(service: str, body: bytes) -> str:
        if service != "sts":
            return ""
        form = parse_qs(body.decode("utf-8", "replace"))
        return form.get("RoleArn", [""])[0] if form.get("Action") == ["AssumeRole"] else ""

    def _query_error(self, status, code, message):
        """An error in the query protocol's XML shape, as STS answers it."""
        data = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            "</Error><RequestId>4f4cb1c4-0d6b-4a9e-9a5e-0c1f6b3f6a11</RequestId></ErrorResponse>"
        ).encode()
        self.reply(status, data, "text/xml")

    def _error(self, status, code, message):
        """An error in the JSON protocols' shape (Lambda, ECS, EKS, ECR all read it)."""
        self.send_json(status, {"__type": code, "Message": message}, {"x-amzn-ErrorType": code})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay


class AccessGate(_Server):
    """A pass-through proxy to ``upstream`` that denies chosen (signing service, region) pairs
    and chosen roles to assume, or throttles their next few requests."""

    def __init__(self, upstream: str):
        super().__init__(_GateHandler)
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream_host, self.upstream_port = host, int(port)
        self.denied: set[tuple[str, str]] = set()
        self.denied_roles: set[str] = set()  # role ARNs whose AssumeRole is refused
        self.throttled: dict[tuple[str, str], int] = {}
        self.refused: list[tuple] = []
