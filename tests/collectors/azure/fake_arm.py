"""A local HTTPS server answering like Azure Resource Manager, for the collector to read with the
real ``azure-mgmt-*`` clients: subscriptions, ``Microsoft.Web`` sites and their deployment slots
(config, authsettingsV2, app settings, functions), ``Microsoft.ContainerService`` managed
clusters (and their ``Microsoft.Insights`` diagnostic settings), ``Microsoft.ContainerInstance``
container groups and the ``microsoft.insights`` Activity Log.

It serves a seeded estate from the recorded responses in ``fixtures/``, pages every list
(``nextLink``), can throttle a path (429 with Retry-After) and deny a subscription (403), and
serves TLS with a certificate the test generates, so the clients' bearer-token policy runs as it
does against Azure.
"""

import copy
import datetime as dt
import ipaddress
import json
import re
import ssl
from pathlib import Path
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import LocalHTTPServer, QuietHandler, throttled

FIXTURES = Path(__file__).parent / "fixtures"
PAGE_SIZE = 2
PROD = "0b1f6471-1bf0-4dda-aec3-111111111111"
LOCKED = "0b1f6471-1bf0-4dda-aec3-222222222222"
SITE = re.compile(
    r"/subscriptions/([^/]+)/resourcegroups/[^/]+/providers/microsoft\.web/sites/([^/]+)"
)

CLUSTER_SETTINGS = re.compile(
    r"/managedclusters/([^/]+)/providers/microsoft\.insights/diagnosticsettings$"
)


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def write_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert path, key path), made for this test run."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "daylight-test-arm")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "arm-cert.pem", directory / "arm-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def seeded_estate() -> dict:
    """The production subscription from the fixtures; the locked one with one web app."""
    prod = {
        "sites": fixture("sites.json")["value"],
        "configs": fixture("site_configs.json"),
        "settings": fixture("app_settings.json"),
        "functions": fixture("site_functions.json"),
        "slots": fixture("slots.json"),
        "auth": fixture("auth_settings.json"),
        "clusters": fixture("managed_clusters.json")["value"],
        "diagnostics": fixture("diagnostic_settings.json"),
        "groups": fixture("container_groups.json")["value"],
        "events": fixture("activity_log.json")["value"],
    }
    site = copy.deepcopy(prod["sites"][3])
    site["id"] = site["id"].replace(PROD, LOCKED).replace("sso-admin", "vault-ui")
    site["name"] = "vault-ui"
    locked = {
        "sites": [site],
        "configs": {"vault-ui": prod["configs"]["sso-admin"]},
        "settings": {},
        "functions": {},
        "slots": {},
        "auth": {},
        "diagnostics": {},
        "clusters": [],
        "groups": [],
        "events": [],
    }
    return {PROD: prod, LOCKED: locked}


class FakeArm(LocalHTTPServer):
    def __init__(self, cert_path: Path, key_path: Path):
        self.estate = seeded_estate()
        self.subscriptions = fixture("subscriptions.json")["value"]
        self.forbidden: set[str] = set()
        self.settings_forbidden = False  # a Reader-only credential
        self.denied_paths: set[str] = set()  # path fragments answered 403
        self.throttle: dict[str, int] = {}
        self.requests: list[tuple[str, str, dict]] = []  # method, path, query
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        super().__init__(self._handler(), tls=context)

    def subscription(self, subscription_id: str) -> dict:
        empty = {"sites": [], "configs": {}, "settings": {}, "functions": {}, "slots": {}}
        empty |= {"auth": {}, "diagnostics": {}, "clusters": [], "groups": [], "events": []}
        return self.estate.get(subscription_id, empty)

    # --- routing ------------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict):
        lower = path.lower()
        if lower == "/subscriptions":
            return self._page(self.subscriptions, path, query)
        m = re.match(r"/subscriptions/([^/]+)", lower)
        estate = self.subscription(m[1]) if m else {}
        if lower.endswith("/providers/microsoft.web/sites"):
            return self._page(estate["sites"], path, query)
        if site := SITE.match(lower):
            name = next(s["name"] for s in estate["sites"] if s["name"].lower() == site[2])
            if lower.endswith("/slots"):
                return self._page(estate["slots"].get(name, {"value": []})["value"], path, query)
            if slot := re.search(r"/slots/([^/]+)", lower):
                name = f"{name}/{slot[1]}"
            if lower.endswith("/config/authsettingsv2"):
                return 200, estate["auth"].get(name, _auth_default(path))
            if lower.endswith("/config/web"):
                return 200, estate["configs"][name]
            if lower.endswith("/config/appsettings/list") and method == "POST":
                if self.settings_forbidden:
                    return 403, _error("AuthorizationFailed", "no config/list/action")
                return 200, estate["settings"].get(name, {"properties": {}})
            if lower.endswith("/functions"):
                if name not in estate["functions"]:
                    return 400, _error("BadRequest", "Encountered an error from host runtime.")
                return 200, estate["functions"][name]
        if cluster := CLUSTER_SETTINGS.search(lower):
            settings = {k.lower(): v for k, v in estate["diagnostics"].items() if k[0] != "_"}
            return 200, settings.get(cluster[1], {"value": []})
        if lower.endswith("/providers/microsoft.containerservice/managedclusters"):
            return self._page(estate["clusters"], path, query)
        if lower.endswith("/providers/microsoft.containerinstance/containergroups"):
            return self._page(estate["groups"], path, query)
        if lower.endswith("/providers/microsoft.insights/eventtypes/management/values"):
            return self._page(self._events(estate["events"], query), path, query)
        return 404, _error("NotFound", f"no route {path}")

    def _events(self, events: list, query: dict) -> list:
        since = re.search(r"eventTimestamp ge '([^']+)'", query.get("$filter", ""))
        until = re.search(r"eventTimestamp le '([^']+)'", query.get("$filter", ""))
        assert since and until, "the Activity Log requires a time window"
        floor, ceiling = _when(since[1]), _when(until[1])
        chosen = [e for e in events if floor <= _when(e["eventTimestamp"]) <= ceiling]
        fields = query.get("$select", "").split(",") if query.get("$select") else None
        return [{k: v for k, v in e.items() if fields is None or k in fields} for e in chosen]

    def _page(self, items: list, path: str, query: dict):
        start = int(query.get("$skiptoken") or 0)
        page = {"value": items[start : start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(items):
            following = {**query, "$skiptoken": str(start + PAGE_SIZE)}
            page["nextLink"] = f"{self.url}{path}?{urlencode(following)}"
        return 200, page

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _answer(self, method):
                path, query = self.target()
                self.read_body()
                fake.requests.append((method, path, query))
                headers = {}
                denied = re.match(r"/subscriptions/([^/]+)/", path.lower())
                if not self.headers.get("Authorization", "").startswith("Bearer "):
                    status, payload = 401, _error("AuthenticationFailed", "no token")
                elif "api-version" not in query:
                    status, payload = 400, _error("MissingApiVersionParameter", "api-version")
                elif throttled(fake.throttle, path.lower()):
                    status, headers = 429, {"Retry-After": "1"}
                    payload = _error("TooManyRequests", "throttled")
                elif any(fragment in path.lower() for fragment in fake.denied_paths):
                    status, payload = 403, _error("AuthorizationFailed", "denied by the test")
                elif denied and denied[1] in fake.forbidden:
                    status = 403
                    payload = _error(
                        "AuthorizationFailed",
                        f"The client does not have authorization to perform action over scope "
                        f"'/subscriptions/{denied[1]}'",
                    )
                else:
                    status, payload = fake.route(method, path, query)
                self.send_json(status, payload, headers)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

        return Handler


def _auth_default(path: str) -> dict:
    """What App Service answers for an app that never set up authentication."""
    return {
        "id": path,
        "name": "authsettingsV2",
        "type": "Microsoft.Web/sites/config",
        "properties": {
            "platform": {"enabled": False},
            "globalValidation": {"unauthenticatedClientAction": "RedirectToLoginPage"},
            "identityProviders": {},
            "login": {},
            "httpSettings": {"requireHttps": True},
        },
    }


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _when(text: str) -> dt.datetime:
    text = re.sub(r"\.(\d+)", lambda m: "." + m[1][:6].ljust(6, "0"), text.replace("Z", "+00:00"))
    return dt.datetime.fromisoformat(text)
