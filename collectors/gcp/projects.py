"""Projects under an organization or folders, through Resource Manager v3.

They become the collection scopes of a source that names an organization or folders, and each
is reported as an ``account`` asset so that the inventory can show projects no source covers.
"""

from collections.abc import Iterator

from ..records import DiscoveredAsset
from .clients import RETRY, TIMEOUT, GcpClients, failure
from .common import PROVIDER, as_rest, full_name, parse_time

SERVICE = "cloudresourcemanager.googleapis.com"
LIVE = "ACTIVE"


def get_projects(clients: GcpClients, parents: list[str]) -> Iterator[dict]:
    """Every project under ``parents`` ("organizations/N", "folders/N"), at any depth."""
    pending = list(parents)
    while pending:
        parent = pending.pop(0)
        yield from _list(clients.projects.list_projects, parent, "resourcemanager:ListProjects")
        pending += [
            folder["name"]
            for folder in _list(clients.folders.list_folders, parent, "resourcemanager:ListFolders")
        ]


def _list(method, parent: str, call: str) -> Iterator[dict]:
    try:
        for item in method(request={"parent": parent}, retry=RETRY, timeout=TIMEOUT):
            yield as_rest(item)
    except Exception as exc:
        raise failure(f"{call} {parent}", exc) from exc


def transform_project(raw: dict) -> DiscoveredAsset:
    """``raw`` is a Resource Manager v3 Project."""
    return DiscoveredAsset(
        key=full_name(SERVICE, raw["name"]),
        provider=PROVIDER,
        kind="account",
        name=raw.get("projectId") or raw["name"],
        account=raw.get("projectId", ""),
        labels=dict(raw.get("labels") or {}),
        attributes={
            "project_number": raw["name"].removeprefix("projects/"),
            "parent": raw.get("parent", ""),
            "display_name": raw.get("displayName", ""),
        },
        state=raw.get("state", ""),
        created_at=parse_time(raw.get("createTime")),
        modified_at=parse_time(raw.get("updateTime")),
    )
