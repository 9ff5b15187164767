"""A local server answering like Google's REST APIs, for the collector to read with the real
client libraries: Cloud Functions v2, Cloud Run v2 (and the v1 Admin API's location list and
Knative revisions), GKE v1,
Logging v2 ``entries:list``, Resource Manager v3 and the OAuth token endpoint.

It serves a seeded estate from the recorded responses in ``fixtures/``, pages every list
(``nextPageToken``), can throttle a path once (429) and deny a project (403).
"""

import copy
import json
import re
from datetime import datetime
from pathlib import Path

from tests.servers import LocalHTTPServer, QuietHandler, throttled

FIXTURES = Path(__file__).parent / "fixtures"
PAGE_SIZE = 2


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def _project_of(name: str) -> str:
    return name.split("/")[1]


def seeded_estate() -> dict:
    """acme-prod from the fixtures; acme-locked with one function of its own."""
    prod = {
        "functions": fixture("functions.json")["functions"],
        "services": fixture("run_services.json")["services"],
        "clusters": fixture("clusters.json")["clusters"],
        "entries": fixture("audit_entries.json")["entries"],
        "revisions": fixture("run_revisions.json")["revisions"],
    }
    locked_function = copy.deepcopy(prod["functions"][1])
    locked_function["name"] = "projects/acme-locked/locations/us-central1/functions/vault-sync"
    locked = {
        "functions": [locked_function],
        "services": [],
        "clusters": [],
        "entries": [],
        "revisions": {},
    }
    return {"projects": {"acme-prod": prod, "acme-locked": locked}}


class FakeGcp(LocalHTTPServer):
    def __init__(self):
        self.estate = seeded_estate()
        self.policies = fixture("iam_policies.json")
        listing = fixture("projects.json")
        self.folders = listing.pop("folders")
        self.project_listing = listing
        self.forbidden: set[str] = set()
        self.throttle: dict[str, int] = {}  # path fragment -> how many 429s to answer
        self.requests: list[tuple[str, str, str]] = []  # method, path, authorization
        super().__init__(self._handler())

    def project(self, project_id: str) -> dict:
        return self.estate["projects"][project_id]

    # --- routing ------------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict, body: dict):
        if path == "/token":
            return 200, {
                "access_token": "fake-access-token",
                "expires_in": 3600,
                "token_type": "Bearer",
            }
        if m := re.fullmatch(r"/v2/projects/([^/]+)/locations/-/functions", path):
            return self._page(self.project(m[1])["functions"], "functions", query)
        if m := re.fullmatch(r"/v2/(projects/[^:]+):getIamPolicy", path):
            return 200, self.policies.get(m[1], {"etag": "ACAB"})
        if m := re.fullmatch(r"/v1/projects/([^/]+)/locations", path):
            regions = sorted({s["name"].split("/")[3] for s in self.project(m[1])["services"]})
            regions += ["asia-east1"]  # a region with nothing in it
            locations = [
                {"name": f"projects/{m[1]}/locations/{r}", "locationId": r} for r in regions
            ]
            return self._page(locations, "locations", query)
        if m := re.fullmatch(r"/v2/projects/([^/]+)/locations/([^/]+)/services", path):
            prefix = f"projects/{m[1]}/locations/{m[2]}/"
            services = [s for s in self.project(m[1])["services"] if s["name"].startswith(prefix)]
            return self._page(services, "services", query)
        if m := re.fullmatch(
            r"/apis/serving.knative.dev/v1/namespaces/([^/]+)/revisions/([^/]+)", path
        ):
            return self._revision(m[1], m[2])
        if m := re.fullmatch(r"/v1/projects/([^/]+)/locations/-/clusters", path):
            return 200, {"clusters": self.project(m[1])["clusters"]}
        if path == "/v2/entries:list":
            return self._entries(body)
        if path == "/v3/projects":
            return self._page(self.project_listing.get(query["parent"], []), "projects", query)
        if path == "/v3/folders":
            return self._page(self.folders.get(query["parent"], []), "folders", query)
        return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}

    def _revision(self, project: str, revision: str):
        """The regional v1 endpoint has no location in its path: the test server serves all
        regions, so the revision is found by its (unique) id."""
        for name, found in self.project(project)["revisions"].items():
            if name.endswith(f"/revisions/{revision}"):
                return 200, found
        return 404, {"error": {"code": 404, "message": f"no revision {revision}"}}

    def _page(self, items: list, field: str, query: dict):
        start = int(query.get("pageToken") or 0)
        page = {field: items[start : start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(items):
            page["nextPageToken"] = str(start + PAGE_SIZE)
        return 200, page

    def _entries(self, body: dict):
        project = _project_of(body["resourceNames"][0])
        since = re.search(r'timestamp>="([^"]+)"', body.get("filter", ""))
        assert "cloudaudit.googleapis.com%2Factivity" in body["filter"]
        entries = self.project(project)["entries"]
        if since:
            floor = datetime.fromisoformat(since[1].replace("Z", "+00:00"))
            entries = [
                e
                for e in entries
                if datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) >= floor
            ]
        entries = sorted(entries, key=lambda e: e["timestamp"])
        return self._page(entries, "entries", {"pageToken": body.get("pageToken")})

    def _denied(self, path: str, body: dict) -> bool:
        names = " ".join([path, *body.get("resourceNames", [])])
        return any(f"projects/{p}" in names or f"namespaces/{p}/" in names for p in self.forbidden)

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _answer(self, method):
                path, query = self.target()
                raw = self.read_body()
                body = json.loads(raw) if raw and path != "/token" else {}
                auth = self.headers.get("Authorization", "")
                fake.requests.append((method, path, auth))
                headers = {}
                if path != "/token" and not auth.startswith("Bearer "):
                    status, payload = (
                        401,
                        {
                            "error": {
                                "code": 401,
                                "message": "no credentials",
                                "status": "UNAUTHENTICATED",
                            }
                        },
                    )
                elif throttled(fake.throttle, path):
                    status, headers = 429, {"Retry-After": "1"}
                    payload = {
                        "error": {
                            "code": 429,
                            "message": "Quota exceeded",
                            "status": "RESOURCE_EXHAUSTED",
                        }
                    }
                elif fake._denied(path, body):
                    status = 403
                    payload = {
                        "error": {
                            "code": 403,
                            "message": "The caller does not have permission",
                            "status": "PERMISSION_DENIED",
                        }
                    }
                else:
                    status, payload = fake.route(method, path, query, body)
                self.send_json(status, payload, headers)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

        return Handler
