"""Access history from Cloud Audit Logs (Admin Activity), read through the Logging API.

Only who, what, when, from where and the outcome are kept. Audit entries also carry the request
and response bodies — a CreateFunction request holds the environment variables' values — so
those are never read into a record.
"""

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

from ..records import AccessRecord
from .clients import GcpClients, failure
from .common import PROVIDER, full_name, parse_time, rfc3339
from .gke import SERVICE as GKE_SERVICE

# The services whose resources Daylight inventories, and the part of a resource name that is
# the asset (a node pool's events belong to its cluster, a revision's to its service).
AUDITED = {
    "cloudfunctions.googleapis.com": re.compile(r"projects/[^/]+/locations/[^/]+/functions/[^/]+"),
    "run.googleapis.com": re.compile(r"projects/[^/]+/locations/[^/]+/services/[^/]+"),
    GKE_SERVICE: re.compile(r"projects/[^/]+/(?:locations|zones)/[^/]+/clusters/[^/]+"),
}
_RUN_V1 = re.compile(r"namespaces/([^/]+)/services/([^/]+)")
# The create calls of each API version ("google.cloud.functions.v2.FunctionService.CreateFunction",
# "google.cloud.run.v1.Services.CreateService", "google.container.v1.ClusterManager.CreateCluster").
CREATION = re.compile(r"\.Create(?:Function|Service|Cluster)$")
PAGE_SIZE = 1000
ENDPOINT = "https://logging.googleapis.com"


def admin_activity_filter(project: str, since: datetime) -> str:
    services = " OR ".join(f'"{service}"' for service in AUDITED)
    return (
        f'logName="projects/{project}/logs/cloudaudit.googleapis.com%2Factivity"'
        f' AND timestamp>="{rfc3339(since)}"'
        f" AND protoPayload.serviceName=({services})"
    )


def get_admin_activity(clients: GcpClients, project: str, since: datetime) -> Iterator[dict]:
    """Admin Activity audit entries of ``project`` from ``since`` on, oldest first, as the
    REST LogEntry JSON."""
    call = f"logging:ListLogEntries {project}"
    url = f"{clients.endpoint(ENDPOINT)}/v2/entries:list"
    body = {
        "resourceNames": [f"projects/{project}"],
        "filter": admin_activity_filter(project, since),
        "orderBy": "timestamp asc",
        "pageSize": PAGE_SIZE,
    }
    while True:
        try:
            page = clients.post_json(url, body)
        except Exception as exc:
            raise failure(call, exc) from exc
        yield from page.get("entries") or []
        if not page.get("nextPageToken"):
            return
        body = {**body, "pageToken": page["nextPageToken"]}


def audit_asset_key(service: str, resource_name: str, location: str = "") -> str:
    """The key of the asset an audit entry is about, or "" when it is about something else."""
    pattern = AUDITED.get(service)
    if pattern is None:
        return ""
    if service == "run.googleapis.com" and (v1 := _RUN_V1.search(resource_name)) and location:
        # The v1 Admin API names services "namespaces/PROJECT/services/NAME".
        resource_name = f"projects/{v1[1]}/locations/{location}/services/{v1[2]}"
    match = pattern.search(resource_name)
    if not match:
        return ""
    return full_name(service, match[0].replace("/zones/", "/locations/"))


def transform_audit_entry(entry: dict) -> AccessRecord | None:
    """``entry`` is a LogEntry whose protoPayload is an AuditLog; None when it has no id."""
    payload = entry.get("protoPayload") or {}
    occurred = parse_time(entry.get("timestamp"))
    if not entry.get("insertId") or occurred is None:
        return None
    status = payload.get("status") or {}
    metadata = payload.get("requestMetadata") or {}
    resource_labels = (entry.get("resource") or {}).get("labels") or {}
    service = payload.get("serviceName", "")
    resource_name = payload.get("resourceName", "")
    return AccessRecord(
        event_id=entry["insertId"],
        provider=PROVIDER,
        occurred_at=occurred,
        action=payload.get("methodName", ""),
        asset_key=audit_asset_key(service, resource_name, resource_labels.get("location", "")),
        actor=(payload.get("authenticationInfo") or {}).get("principalEmail", ""),
        source_ip=metadata.get("callerIp", ""),
        user_agent=metadata.get("callerSuppliedUserAgent", ""),
        outcome="failure" if status.get("code") else "success",
        detail={
            "service": service,
            "resource_name": resource_name,
            "status_message": status.get("message", "") if status.get("code") else "",
            "severity": entry.get("severity", ""),
        },
    )


def is_creation(record: AccessRecord) -> bool:
    """A successful create call of an asset: its principal is the asset's creator."""
    return (
        record.outcome == "success"
        and bool(record.asset_key)
        and bool(record.actor)
        and bool(CREATION.search(record.action))
    )


def history_start(cursor: dict, now: datetime, first_days: int, overlap: timedelta) -> datetime:
    """Where to resume: a little before the last event seen (late-arriving entries; duplicates
    are dropped by event id), or ``first_days`` back on the first run."""
    last = parse_time(cursor.get("audit_since"))
    if last is None:
        return now - timedelta(days=first_days)
    return last - overlap
