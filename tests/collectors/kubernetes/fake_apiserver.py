"""A small Kubernetes API server for tests: the read side of the REST API over objects it holds.

It knows nothing of Daylight's collector. It serves, for any group/version it holds objects of,
``GET`` of lists (cluster-wide and per namespace) and of single objects, ``/version``, bearer
token authentication, ``limit``/``continue`` paging with 410 Gone for an expired continue token,
404 for resources it does not serve (an absent CRD), and 403 for resources a test forbids.
Objects are given in the API's JSON shape; the official client validates every one it reads.
"""

import base64
import json
from urllib.parse import parse_qs, urlsplit

from tests.servers import LocalHTTPServer, QuietHandler

# Kinds served at cluster scope; everything else lives in a namespace.
CLUSTER_SCOPED = {"Namespace", "Node"}
BUILT_IN_GROUPS = {"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1"}
BUILT_IN_KINDS = {
    "v1": ("Namespace", "Node", "Pod", "Service", "Event"),
    "apps/v1": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
    "batch/v1": ("Job", "CronJob"),
    "networking.k8s.io/v1": ("Ingress",),
}


def plural(kind: str) -> str:
    lower = kind.lower()
    return lower + ("es" if lower.endswith("s") else "s")


def status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class FakeKubernetes:
    """The cluster's state and the knobs tests turn (forbid a resource, expire tokens)."""

    def __init__(self, token: str, git_version: str = "v1.29.4"):
        self.token = token
        self.version = {
            "major": "1",
            "minor": git_version.split(".")[1],
            "gitVersion": git_version,
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2026-04-16T00:00:00Z",
            "goVersion": "go1.22.2",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        self.objects: dict[tuple[str, str], list[dict]] = {
            (api_version, plural(kind)): []
            for api_version, kinds in BUILT_IN_KINDS.items()
            for kind in kinds
        }
        self.kinds = {
            (api_version, plural(kind)): kind
            for api_version, kinds in BUILT_IN_KINDS.items()
            for kind in kinds
        }
        self.forbidden: set[str] = set()  # resource plurals answered with 403
        self.expire_next_continue = 0  # how many continue requests to answer 410
        # resource plural -> how many requests to answer 429 with Retry-After (API Priority and
        # Fairness rejecting a request)
        self.throttle: dict[str, int] = {}
        self.generation = 1
        self.requests: list[str] = []
        self._server = None

    # --- state --------------------------------------------------------------------------------
    def add(self, *objects: dict) -> None:
        """Hold ``objects``; a custom resource is served from its first object on, as if its
        CRD had been installed with it."""
        for obj in objects:
            ident = (obj["apiVersion"], plural(obj["kind"]))
            self.objects.setdefault(ident, []).append(obj)
            self.kinds[ident] = obj["kind"]
        self.generation += 1

    def remove(self, kind: str, name: str, namespace: str = "") -> None:
        for (_, resource), items in self.objects.items():
            if resource == plural(kind):
                items[:] = [
                    o
                    for o in items
                    if not (
                        o["metadata"]["name"] == name
                        and o["metadata"].get("namespace", "") == namespace
                    )
                ]
        self.generation += 1

    # --- serving ------------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                code, body = fake.handle(self.path, self.headers.get("Authorization", ""))
                self.send_json(code, body, {"Retry-After": "0"} if code == 429 else None)

        self._server = LocalHTTPServer(Handler).start()
        return self._server.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def handle(self, raw_path: str, authorization: str) -> tuple[int, dict]:
        self.requests.append(raw_path)
        if authorization != f"Bearer {self.token}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        url = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if parts in (["version"], ["version", ""]):
            return 200, self.version
        if parts[:1] == ["api"] and len(parts) >= 2:
            api_version, rest = parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        resource = rest[0]
        if (api_version, resource) not in self.objects:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        if self.throttle.get(resource, 0) > 0:
            self.throttle[resource] -= 1
            return 429, status(429, "TooManyRequests", "Too many requests, please try again later.")
        if resource in self.forbidden:
            return 403, status(
                403,
                "Forbidden",
                f'{resource} is forbidden: User "system:serviceaccount:daylight:reader" cannot '
                f"list resource {resource!r} at the cluster scope",
            )
        items = [
            o
            for o in self.objects[(api_version, resource)]
            if not namespace or o["metadata"].get("namespace") == namespace
        ]
        if len(rest) == 2:
            found = [o for o in items if o["metadata"]["name"] == rest[1]]
            if not found:
                return 404, status(404, "NotFound", f"{resource} {rest[1]!r} not found")
            return 200, found[0]
        return self._list(api_version, resource, items, query)

    def _list(self, api_version, resource, items, query) -> tuple[int, dict]:
        offset = 0
        if token := query.get("continue"):
            state = json.loads(base64.b64decode(token))
            if self.expire_next_continue or state["generation"] != self.generation:
                self.expire_next_continue = max(self.expire_next_continue - 1, 0)
                return 410, status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                )
            offset = state["offset"]
        limit = int(query.get("limit", 0)) or len(items) or 1
        page = items[offset : offset + limit]
        metadata = {"resourceVersion": str(self.generation)}
        if offset + limit < len(items):
            state = {"offset": offset + limit, "generation": self.generation}
            metadata["continue"] = base64.b64encode(json.dumps(state).encode()).decode()
            metadata["remainingItemCount"] = len(items) - offset - limit
        kind = self.kinds[(api_version, resource)]
        if api_version in BUILT_IN_GROUPS:  # built-in lists carry no kind on their items
            page = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page]
        return 200, {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": metadata,
            "items": page,
        }
