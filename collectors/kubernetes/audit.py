"""Kubernetes audit events (audit.k8s.io/v1, one JSON object per line in the API server's audit
log, or a batch posted to Daylight's audit webhook) as access history.

Kept: who created, changed, deleted or exec'd into a workload, a pod, a Service or an Ingress —
whether it was allowed or denied. Dropped: reads, status updates, and the control plane's own
components acting on the objects they manage. Each event is identified by its ``auditID``, so
the file read twice or a batch posted twice stores it once.
"""

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from collectors.records import AccessRecord

from .transform import parse_time

PROVIDER = "kubernetes"
# (API group, resource) of the objects whose audit events are access history, and the
# controller name Daylight gives the asset they are about.
RESOURCE_KINDS = {
    ("apps", "deployments"): "Deployment",
    ("apps", "statefulsets"): "StatefulSet",
    ("apps", "daemonsets"): "DaemonSet",
    ("batch", "jobs"): "Job",
    ("batch", "cronjobs"): "CronJob",
    ("", "pods"): "Pod",
    ("serving.knative.dev", "services"): "KnativeService",
    ("openfaas.com", "functions"): "OpenFaaSFunction",
}
EXPOSING_RESOURCES = {("", "services"), ("networking.k8s.io", "ingresses")}
CHANGING_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
# Subresources that put a person inside a running container, whatever the verb.
INTERACTIVE = {"exec", "attach", "portforward", "ephemeralcontainers"}
# The control plane acting on what it manages: every pod a ReplicaSet creates, every node
# heartbeat. Not people, and far too many.
SYSTEM_ACTORS = ("system:node:", "system:kube-", "system:serviceaccount:kube-system:")
SYSTEM_USERS = {"system:apiserver", "system:kube-scheduler", "system:kube-controller-manager"}
MAX_LINE = 1_000_000


@dataclass
class WorkloadIndex:
    """Which asset an event's object is: workloads by (controller, namespace, name), and the
    workload each known pod belongs to."""

    keys: dict[tuple[str, str, str], str] = field(default_factory=dict)
    pods: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, controller: str, namespace: str, name: str, key: str) -> None:
        self.keys[(controller, namespace, name)] = key

    def key_for(self, object_ref: dict) -> str:
        controller = RESOURCE_KINDS.get(
            (object_ref.get("apiGroup") or "", object_ref.get("resource") or "")
        )
        namespace, name = object_ref.get("namespace") or "", object_ref.get("name") or ""
        if not controller or not name:
            return ""
        if found := self.keys.get((controller, namespace, name)):
            return found
        if controller == "Pod":
            return self.pods.get((namespace, name)) or self._owner_by_pod_name(namespace, name)
        return ""

    def _owner_by_pod_name(self, namespace: str, pod: str) -> str:
        """A pod no longer listed, named as its controller names pods: "<sts>-0",
        "<ds>-x7k2p", "<job>-x7k2p", "<deploy>-<hash>-x7k2p", "<cronjob>-<time>-x7k2p"."""
        one_off, two_off = pod.rsplit("-", 1)[0], pod.rsplit("-", 2)[0]
        candidates = [("StatefulSet", one_off), ("DaemonSet", one_off), ("Job", one_off)]
        candidates += [("Deployment", two_off), ("CronJob", two_off)]
        for controller, name in candidates:
            if found := self.keys.get((controller, namespace, name)):
                return found
        return ""


def _is_system(username: str) -> bool:
    return username in SYSTEM_USERS or username.startswith(SYSTEM_ACTORS)


def is_access(event: dict) -> bool:
    """Whether an audit event is someone changing or entering a workload or its exposure."""
    if event.get("stage") == "RequestReceived":  # the same auditID completes later
        return False
    ref = event.get("objectRef") or {}
    resource = (ref.get("apiGroup") or "", ref.get("resource") or "")
    subresource = ref.get("subresource") or ""
    if resource not in RESOURCE_KINDS and resource not in EXPOSING_RESOURCES:
        return False
    if subresource == "status" or _is_system((event.get("user") or {}).get("username", "")):
        return False
    return subresource in INTERACTIVE or event.get("verb") in CHANGING_VERBS


def _outcome(code) -> str:
    if not isinstance(code, int):
        return ""
    if code in (401, 403):
        return "denied"
    return "success" if code < 400 else "failure"


def transform_audit_event(event: dict, index: WorkloadIndex) -> AccessRecord | None:
    """One audit event as an AccessRecord, or None when it is not access history."""
    if not isinstance(event, dict) or not event.get("auditID") or not is_access(event):
        return None
    occurred = parse_time(event.get("stageTimestamp") or event.get("requestReceivedTimestamp"))
    if occurred is None:
        return None
    ref = event.get("objectRef") or {}
    user = event.get("user") or {}
    impersonated = (event.get("impersonatedUser") or {}).get("username", "")
    action = f"{event.get('verb', '')} {ref.get('resource', '')}"
    if ref.get("subresource"):
        action += f"/{ref['subresource']}"
    code = (event.get("responseStatus") or {}).get("code")
    detail = {
        "object": "/".join(p for p in (ref.get("namespace"), ref.get("name")) if p),
        "api_group": ref.get("apiGroup", ""),
        "request_uri": event.get("requestURI", ""),
        "groups": user.get("groups") or [],
        "response_code": code,
        "stage": event.get("stage", ""),
    }
    if impersonated:
        detail["impersonated_user"] = impersonated
    return AccessRecord(
        event_id=str(event["auditID"]),
        provider=PROVIDER,
        occurred_at=occurred,
        action=action,
        asset_key=index.key_for(ref),
        actor=user.get("username", ""),
        source_ip=next(iter(event.get("sourceIPs") or []), ""),
        user_agent=event.get("userAgent", ""),
        outcome=_outcome(code),
        detail=detail,
    )


def audit_events(payload) -> list[dict]:
    """The events of a webhook batch (an audit.k8s.io EventList) or of a single Event."""
    if not isinstance(payload, dict):
        return []
    if payload.get("kind") == "EventList":
        return [e for e in payload.get("items") or [] if isinstance(e, dict)]
    return [payload] if payload.get("kind") == "Event" else []


def access_records(events: Iterable[dict], index: WorkloadIndex) -> Iterator[AccessRecord]:
    for event in events:
        if (record := transform_audit_event(event, index)) is not None:
            yield record


@dataclass
class LogPosition:
    """How far the audit log has been read: the file's inode (a rotated log is a new file) and
    the offset past the last complete line."""

    inode: int = 0
    offset: int = 0
    malformed: int = 0

    @classmethod
    def from_cursor(cls, cursor: dict) -> "LogPosition":
        saved = cursor.get("audit_log") or {}
        return cls(saved.get("inode", 0), saved.get("offset", 0))

    def as_cursor(self) -> dict:
        return {"audit_log": {"inode": self.inode, "offset": self.offset}}


def rotated_file(path: str, inode: int) -> str | None:
    """The file the log at ``path`` was rotated to, found by its inode among the files beside
    it whose names start like the log's: ``audit.log.1`` (logrotate), ``audit.log-20261102``
    (logrotate's dateext) and ``audit-2026-11-02T10-00-00.000.log`` (the API server's own
    --audit-log-maxbackup rotation). A compressed rotation is a new file, so it is not found:
    use logrotate's delaycompress."""
    directory, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    try:
        names = sorted(os.listdir(directory or "."))
    except OSError:
        return None
    # The usual name first, then every other candidate.
    first = f"{name}.1"
    for candidate in sorted(names, key=lambda n: n != first):
        if candidate == name or not candidate.startswith(stem):
            continue
        full = os.path.join(directory, candidate)
        try:
            if os.stat(full).st_ino == inode:
                return full
        except OSError:
            continue
    return None


def read_audit_log(path: str, position: LogPosition) -> Iterator[dict]:
    """The events written to the audit log at ``path`` since ``position``, which advances
    past every complete line read. A line being written (no newline yet) waits for the next
    run; a line that is not JSON is counted in ``position.malformed`` and passed over.

    When the log was rotated since the last read (its inode changed), the rest of the rotated
    file is read first, so that lines written to it after the last read are not lost, then
    the new file from its start."""
    with open(path, "rb") as log:
        stat = os.fstat(log.fileno())
        if position.inode and stat.st_ino != position.inode:
            if rotated := rotated_file(path, position.inode):
                with open(rotated, "rb") as old:
                    old.seek(position.offset)
                    yield from _read_lines(old, position, finished=True)
            position.offset = 0
        elif stat.st_size < position.offset:
            position.offset = 0  # truncated in place (copytruncate)
        position.inode = stat.st_ino
        log.seek(position.offset)
        yield from _read_lines(log, position, finished=False)


def _read_lines(log, position: LogPosition, *, finished: bool) -> Iterator[dict]:
    """Events from ``log`` (opened at ``position.offset``). In a file still being written a
    last line without its newline is left for later; in a ``finished`` (rotated) one it is
    the file's last line."""
    while line := log.readline(MAX_LINE):
        if not line.endswith(b"\n") and not finished:
            if len(line) < MAX_LINE:
                return  # still being written
            position.malformed += 1  # absurdly long: skip to the next line
            position.offset += len(line)
            continue
        position.offset += len(line)
        try:
            event = json.loads(line)
        except ValueError:
            position.malformed += 1
            continue
        if isinstance(event, dict):
            yield event
