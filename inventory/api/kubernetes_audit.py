"""The audit webhook Daylight serves to Kubernetes API servers:
``POST /api/v1/kubernetes/audit/<source name>/`` with an audit.k8s.io EventList.

The API server authenticates with a bearer token (``users[].user.token`` in its
``--audit-webhook-config-file``). Each source has its own token; its value lives in the
environment variable the source's ``audit_webhook_token_env`` names, never in the database.
Events are stored through the shared ingest path and deduplicated by ``auditID``, so a batch
the API server sends again is stored once.
"""

import hmac
import json
import logging
import os

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from collectors.kubernetes.audit import WorkloadIndex, access_records, audit_events
from inventory.ingest import record_events
from inventory.models import Asset, AssetKind, Source

logger = logging.getLogger(__name__)
MAX_BATCH_BYTES = 16 * 1024 * 1024  # the API server's batches are far smaller


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _expected_token(source: Source | None) -> str:
    if source is None:
        return ""
    variable = (source.config or {}).get("audit_webhook_token_env") or ""
    if not variable:
        return ""
    token = os.environ.get(variable, "")
    if not token:
        logger.warning("audit webhook of %s: environment variable %s is empty", source, variable)
    return token


def _authenticated(request, source: Source | None) -> bool:
    expected = _expected_token(source)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given, expected)


def _index(source: Source, events: list[dict]) -> WorkloadIndex:
    """Which stored workloads and functions of ``source`` the events name, including the
    controllers a pod's name points to."""
    refs = [e.get("objectRef") or {} for e in events]
    namespaces = {r.get("namespace") or "" for r in refs}
    names = set()
    for ref in refs:
        name = ref.get("name") or ""
        names.update({name, name.rsplit("-", 1)[0], name.rsplit("-", 2)[0]})
    index = WorkloadIndex()
    stored = Asset.objects.filter(
        source=source,
        gone_at__isnull=True,
        kind__in=[AssetKind.WORKLOAD, AssetKind.FUNCTION],
        namespace__in=namespaces,
        name__in=names,
    ).values_list("key", "namespace", "name", "attributes")
    for key, namespace, name, attributes in stored:
        index.add(str((attributes or {}).get("controller", "")), namespace, name, key)
    return index


@csrf_exempt
@login_not_required
@require_POST
def receive_audit_events(request, source_name: str):
    source = Source.objects.filter(name=source_name, provider="kubernetes").first()
    if not _authenticated(request, source):
        # The same answer for an unknown source, one without a webhook and a wrong token.
        return _error(401, "unauthorized")
    if int(request.headers.get("Content-Length") or 0) > MAX_BATCH_BYTES:
        return _error(413, "batch too large")
    body = request.read(MAX_BATCH_BYTES + 1)
    if len(body) > MAX_BATCH_BYTES:
        return _error(413, "batch too large")
    try:
        payload = json.loads(body)
    except ValueError:
        return _error(400, "the body is not JSON")
    events = audit_events(payload)
    stored, refused = record_events(source, access_records(events, _index(source, events)))
    if refused:
        logger.warning(
            "source %s: %d audit events refused: %s", source.name, len(refused), refused[:5]
        )
    return JsonResponse({"received": len(events), "stored": stored, "refused": refused[:20]})


urlpatterns = [
    path("audit/<slug:source_name>/", receive_audit_events, name="kubernetes-audit-webhook"),
]
