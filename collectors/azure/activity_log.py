"""Access history from the Azure Activity Log (management events).

Only the fields a timeline needs are requested (``$select``): the claims and the request
properties — which can hold a token's claims or an app setting's new value — are never fetched.
"""

import re
from collections.abc import Iterator
from datetime import datetime

from ..records import AccessRecord
from .clients import AzureClients, failure
from .common import PROVIDER, iso, parse_time, resource_key

SELECT = ",".join(
    (
        "eventDataId",
        "eventTimestamp",
        "caller",
        "operationName",
        "status",
        "subStatus",
        "resourceId",
        "resourceGroupName",
        "resourceType",
        "httpRequest",
        "correlationId",
        "level",
    )
)
# The resources Daylight inventories; an event about a child (a site's config) is its parent's.
AUDITED = re.compile(
    r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/"
    r"(?:microsoft\.web/sites|microsoft\.containerservice/managedclusters"
    r"|microsoft\.containerinstance/containergroups)/[^/]+",
    re.I,
)
# Every operation logs "Started" (and async ones "Accepted") before its outcome; the outcome
# is the event worth keeping.
INTERIM = {"started", "accepted"}
OUTCOMES = {"succeeded": "success", "failed": "failure"}


def activity_filter(since: datetime, until: datetime) -> str:
    return f"eventTimestamp ge '{iso(since)}' and eventTimestamp le '{iso(until)}'"


def get_activity(clients: AzureClients, since: datetime, until: datetime) -> Iterator[dict]:
    call = f"monitor:ListActivityLogs {clients.subscription}"
    try:
        events = clients.monitor.activity_logs.list(
            filter=activity_filter(since, until), select=SELECT
        )
        for event in events:
            yield event.serialize(keep_readonly=True)
    except Exception as exc:
        raise failure(call, exc) from exc


def audited_asset_key(resource_id: str) -> str:
    match = AUDITED.match(resource_id or "")
    return resource_key(match[0]) if match else ""


def transform_event(raw: dict) -> AccessRecord | None:
    """``raw`` is an EventData; None when it is interim or about a resource Daylight does not
    inventory."""
    status = ((raw.get("status") or {}).get("value") or "").lower()
    asset_key = audited_asset_key(raw.get("resourceId", ""))
    occurred = parse_time(raw.get("eventTimestamp"))
    if not asset_key or status in INTERIM or not raw.get("eventDataId") or occurred is None:
        return None
    operation = raw.get("operationName") or {}
    return AccessRecord(
        event_id=raw["eventDataId"],
        provider=PROVIDER,
        occurred_at=occurred,
        action=operation.get("value", ""),
        asset_key=asset_key,
        actor=raw.get("caller", ""),
        source_ip=(raw.get("httpRequest") or {}).get("clientIpAddress", ""),
        outcome=OUTCOMES.get(status, status),
        detail={
            "operation": operation.get("localizedValue", ""),
            "sub_status": (raw.get("subStatus") or {}).get("value", ""),
            "correlation_id": raw.get("correlationId", ""),
            "resource_id": raw.get("resourceId", ""),
        },
    )
