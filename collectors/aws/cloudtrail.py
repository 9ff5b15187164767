"""Access history from CloudTrail's event history (``LookupEvents``): who created, changed,
configured or deleted each function, service, task definition and cluster, who pushed each
ECR image, and who ran tasks or opened a shell in a container (ECS Exec).

Task events (RunTask, StartTask, StopTask, ExecuteCommand) name a task, not an asset: they are
linked to the cluster here, and to the container asset of the task — the service's, or the
standalone task's — once ECS has been read (``link_task_event``). Task definition events
(RegisterTaskDefinition, DeregisterTaskDefinition) and ECR repository events (CreateRepository,
SetRepositoryPolicy, …) name what assets are built from, not an asset: once the scope's assets
have been read, each is linked to every asset built from it (``HeldEvents``) — the containers of
that task definition family; the containers and functions that run an image of that repository
and the repository's images — as one access event per asset.

Only write events are kept (reads would drown them). One lookup per event source, because
LookupEvents filters on one attribute at a time; pages stream newest first. Each collection reads
from where the previous one's window ended, minus the time CloudTrail may take to deliver an
event, so a late event is read on the next run; ingest deduplicates the overlap by event id.
"""

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from ..records import AccessRecord, DiscoveredAsset
from .common import arn_resource, parse_time
from .session import Region

EVENT_SOURCES = (
    "lambda.amazonaws.com",
    "ecs.amazonaws.com",
    "eks.amazonaws.com",
    "ecr.amazonaws.com",
)
# The steps of every `docker push` (one per layer and part): PutImage says the push happened.
NOISE = {"InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload"}
TASK_EVENTS = {"RunTask", "StartTask", "StopTask", "ExecuteCommand"}
MAX_TASKS_PER_EVENT = 10
TASK_DEFINITION_EVENTS = {"RegisterTaskDefinition", "DeregisterTaskDefinition"}
# Events about an ECR repository itself (its policy, scanning, lifecycle, tag mutability).
REPOSITORY_EVENTS = {
    "CreateRepository",
    "DeleteRepository",
    "SetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "PutImageScanningConfiguration",
    "PutImageTagMutability",
    "PutLifecyclePolicy",
    "DeleteLifecyclePolicy",
}
# The assets one task definition or repository event is linked to: the running ones first,
# then stored images (a repository can hold thousands; its events stay readable on the rest).
MAX_LINKED_ASSETS = 100
# "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.2" (or "@sha256:…"); ".cn" in China.
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<name>[a-z0-9][a-z0-9._/-]*)(?:[:@]|$)"
)
# CloudTrail usually delivers an event within minutes; the next window re-reads this much.
DELIVERY_DELAY = timedelta(minutes=20)
MAX_LOOKBACK_DAYS = 90  # the event history CloudTrail keeps
PAGE_SIZE = 50  # the most LookupEvents returns per call
MAX_DETAIL_TEXT = 500
# The events that create an asset (Lambda's carry an API version: CreateFunction20150331);
# not CreateFunctionUrlConfig, which configures a function that already exists.
CREATION = re.compile(r"^(CreateFunction(\d+)?|CreateService|CreateCluster)$")


# --- get --------------------------------------------------------------------------------------


def get_events(region: Region, source: str, start: datetime, end: datetime) -> Iterator[dict]:
    return region.pages(
        "cloudtrail",
        "lookup_events",
        "Events",
        page_size=PAGE_SIZE,
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": source}],
        StartTime=start,
        EndTime=end,
    )


# --- transform --------------------------------------------------------------------------------


def _payload(event: dict) -> dict:
    try:
        payload = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str:
    return value if isinstance(value, str) else ""


class Arns:
    """Builds the keys Daylight's AWS assets have, for the account and region of an event."""

    def __init__(self, partition: str, region: str, account: str):
        self.partition = partition
        self.prefix = f"arn:{partition}"
        self.region = region
        self.account = account

    def make(self, service: str, resource: str) -> str:
        return f"{self.prefix}:{service}:{self.region}:{self.account}:{resource}"

    def repository(self, name: str, registry: str = "") -> str:
        """An ECR repository's ARN, in another account's registry when ``registry`` says so."""
        return f"{self.prefix}:ecr:{self.region}:{registry or self.account}:repository/{name}"

    def function(self, name: str) -> str:
        """An unqualified function ARN from a name, a partial ARN or a (qualified) ARN."""
        if name.startswith("arn:"):
            return ":".join(name.split(":")[:7])
        if ":function:" in name:  # "123456789012:function:name[:qualifier]"
            name = name.split(":function:", 1)[1]
        return self.make("lambda", f"function:{name.split(':', 1)[0]}")

    def ecs(self, kind: str, name: str, cluster: str = "") -> str:
        if name.startswith("arn:"):
            return name
        cluster_name = (cluster or "default").rsplit("/", 1)[-1]
        resource = f"service/{cluster_name}/{name}" if kind == "service" else f"{kind}/{name}"
        return self.make("ecs", resource)


def lambda_key(name: str, params: dict, response: dict, arns: Arns) -> str:
    target = (
        _text(params.get("functionName"))
        or _text(params.get("resource"))
        or _text(response.get("functionArn"))
    )
    return arns.function(target) if target else ""


def ecs_key(name: str, params: dict, response: dict, arns: Arns) -> str:
    if name == "CreateService":
        return _text(_mapping(response.get("service")).get("serviceArn"))
    if name in ("UpdateService", "DeleteService") and _text(params.get("service")):
        return arns.ecs("service", params["service"], _text(params.get("cluster")))
    if name == "CreateCluster":
        return _text(_mapping(response.get("cluster")).get("clusterArn"))
    if name == "RegisterTaskDefinition":  # without a response (refused), the family it named
        registered = _text(_mapping(response.get("taskDefinition")).get("taskDefinitionArn"))
        family = _text(params.get("family"))
        return registered or (arns.ecs("task-definition", family) if family else "")
    if name == "DeregisterTaskDefinition" and _text(params.get("taskDefinition")):
        return arns.ecs("task-definition", params["taskDefinition"])
    if _text(params.get("resourceArn")):
        return params["resourceArn"]
    if "Cluster" in name and _text(params.get("cluster")):
        return arns.ecs("cluster", params["cluster"])
    return ""


def tasks_of(name: str, params: dict, response: dict) -> list[dict]:
    """The tasks a task event is about: ``{"task", "container", "group"}`` each, as far as the
    event says (a RunTask response lists its tasks with their containers and group)."""
    if name == "ExecuteCommand":
        task = _text(response.get("taskArn")) or _text(params.get("task"))
        container = _text(response.get("containerName")) or _text(params.get("container"))
        return [{"task": task, "container": container, "group": ""}] if task else []
    described = response.get("tasks") or ([response["task"]] if "task" in response else [])
    found = []
    for task in described[:MAX_TASKS_PER_EVENT]:
        if isinstance(task, dict) and _text(task.get("taskArn")):
            containers = [_text(c.get("name")) for c in task.get("containers") or []]
            found.append(
                {
                    "task": task["taskArn"],
                    "container": next((c for c in containers if c), ""),
                    "group": _text(task.get("group")),
                }
            )
    if not found and _text(params.get("task")):  # StopTask refused: the request still names it
        found.append({"task": params["task"], "container": "", "group": ""})
    return found


def ecs_task_cluster(params: dict, response: dict, tasks: list[dict], arns: Arns) -> str:
    """The cluster a task event happened in: as the event names it, else as its task's ARN
    (``task/CLUSTER/ID``) does, else ECS's own "default"."""
    cluster = _text(response.get("clusterArn")) or _text(params.get("cluster"))
    for task in tasks:
        parts = arn_resource(task["task"]).split("/")
        if not cluster and len(parts) == 3:
            cluster = parts[1]
    return arns.ecs("cluster", cluster or "default")


def repository_arn(params: dict, response: dict, arns: Arns) -> str:
    """The repository an event about a repository itself concerns: ``arn:…:repository/NAME``."""
    described = _mapping(response.get("repository"))
    if _text(described.get("repositoryArn")):
        return described["repositoryArn"]
    repository = _text(params.get("repositoryName"))
    return arns.repository(repository, _text(params.get("registryId"))) if repository else ""


def ecr_key(name: str, params: dict, response: dict, arns: Arns) -> str:
    """The image a PutImage pushed (or the first a BatchDeleteImage removed), keyed as its
    asset: ``arn:…:repository/NAME@DIGEST``; for an event about a repository itself, the
    repository (not an asset: ``HeldEvents`` links it to the assets built from it)."""
    if name in REPOSITORY_EVENTS:
        return repository_arn(params, response, arns)
    image = _mapping(response.get("image"))
    repository = _text(image.get("repositoryName")) or _text(params.get("repositoryName"))
    registry = _text(image.get("registryId")) or _text(params.get("registryId"))
    digest = _text(_mapping(image.get("imageId")).get("imageDigest"))
    if not digest and name == "BatchDeleteImage":
        deleted = [i for i in response.get("imageIds") or [] if isinstance(i, dict)]
        digest = _text(deleted[0].get("imageDigest")) if deleted else ""
    if not (repository and digest):
        return ""
    return f"{arns.repository(repository, registry)}@{digest}"


def eks_key(name: str, params: dict, response: dict, arns: Arns) -> str:
    if _text(params.get("resourceArn")):
        arn = params["resourceArn"]
        resource = arn_resource(arn)
        if resource.startswith(("nodegroup/", "addon/", "fargateprofile/")):
            return arns.make("eks", f"cluster/{resource.split('/')[1]}")
        return arn
    cluster = _text(params.get("clusterName")) or _text(params.get("name"))
    return arns.make("eks", f"cluster/{cluster}") if cluster else ""


ASSET_KEYS = {
    "lambda.amazonaws.com": lambda_key,
    "ecs.amazonaws.com": ecs_key,
    "eks.amazonaws.com": eks_key,
    "ecr.amazonaws.com": ecr_key,
}


def is_read_only(event: dict, payload: dict) -> bool:
    flag = event.get("ReadOnly", payload.get("readOnly"))
    return str(flag).lower() == "true"


def actor_of(event: dict, payload: dict) -> str:
    """The principal ARN (an assumed-role session often names the person), else the user name."""
    identity = _mapping(payload.get("userIdentity"))
    return (
        _text(identity.get("arn"))
        or _text(identity.get("invokedBy"))
        or _text(event.get("Username"))
        or _text(identity.get("principalId"))
    )


def transform_event(event: dict, *, partition: str, region: str, account: str):
    """An AccessRecord for a write event; None for a read-only one."""
    payload = _payload(event)
    name = _text(event.get("EventName")) or _text(payload.get("eventName"))
    if is_read_only(event, payload) or name in NOISE:
        return None
    source = _text(event.get("EventSource")) or _text(payload.get("eventSource"))
    params = _mapping(payload.get("requestParameters"))
    response = _mapping(payload.get("responseElements"))
    arns = Arns(partition, region, _text(payload.get("recipientAccountId")) or account)
    key_of = ASSET_KEYS.get(source)
    asset_key = key_of(name, params, response, arns) if key_of else ""
    tasks = tasks_of(name, params, response) if source == "ecs.amazonaws.com" else []
    if name in TASK_EVENTS:
        asset_key = ecs_task_cluster(params, response, tasks, arns)
    identity = _mapping(payload.get("userIdentity"))
    issuer = _mapping(_mapping(identity.get("sessionContext")).get("sessionIssuer"))
    detail = {
        "event_source": source,
        "identity_type": _text(identity.get("type")),
        "session_issuer": _text(issuer.get("arn")),
        "username": _text(event.get("Username")),
        "resources": [
            _text(r.get("ResourceName"))[:MAX_DETAIL_TEXT]
            for r in event.get("Resources") or []
            if isinstance(r, dict)
        ][:20],
    }
    if payload.get("errorMessage"):
        detail["error_message"] = _text(payload["errorMessage"])[:MAX_DETAIL_TEXT]
    if name in TASK_EVENTS:
        # The task and container, never the command: an exec'd command line may carry secrets.
        detail["tasks"] = [{k: v[:MAX_DETAIL_TEXT] for k, v in t.items()} for t in tasks]
    if asset_key and name in TASK_DEFINITION_EVENTS and source == "ecs.amazonaws.com":
        detail["task_definition"] = asset_key[:MAX_DETAIL_TEXT]
    if asset_key and name in REPOSITORY_EVENTS and source == "ecr.amazonaws.com":
        detail["repository"] = asset_key[:MAX_DETAIL_TEXT]
    return AccessRecord(
        event_id=event["EventId"],
        provider="aws",
        occurred_at=parse_time(event.get("EventTime") or payload.get("eventTime")),
        action=name,
        asset_key=asset_key,
        actor=actor_of(event, payload),
        source_ip=_text(payload.get("sourceIPAddress")),
        user_agent=_text(payload.get("userAgent")),
        outcome=_text(payload.get("errorCode")) or "success",
        detail=detail,
    )


def is_task_event(record: AccessRecord) -> bool:
    return record.action in TASK_EVENTS and bool(record.detail.get("tasks"))


def link_task_event(record: AccessRecord, container_key) -> AccessRecord:
    """The task event linked to the container asset of its first task that ECS knows;
    ``container_key(task, container, group)`` answers that asset's key or ""."""
    for task in record.detail.get("tasks", []):
        key = container_key(task["task"], task["container"], task["group"])
        if key:
            return replace(record, asset_key=key)
    return record


def task_family_arn(task_definition_arn: str) -> str:
    """ "arn:…:task-definition/web" for "arn:…:task-definition/web:6": a container asset stays
    the same asset across its family's revisions, so events of every revision concern it."""
    family, _, revision = task_definition_arn.rpartition(":")
    return family if revision.isdigit() and "task-definition/" in family else task_definition_arn


def image_repository_arn(image: str, partition: str) -> str:
    """The ECR repository an image reference is in, as an ARN; "" for any other registry."""
    match = ECR_IMAGE.match(image or "")
    if not match:
        return ""
    return Arns(partition, match["region"], match["account"]).repository(match["name"])


def built_from(asset: DiscoveredAsset, arns: Arns) -> list[str]:
    """What events name that ``asset`` is built from: its ECS task definition family, the ECR
    repository of the image it runs, or, for an ECR image, its repository."""
    found = []
    if asset.kind == "container" and asset.attributes.get("service") == "ECS":
        task_definition = str(asset.attributes.get("task_definition") or "")  # "family:revision"
        if task_definition:
            found.append(task_family_arn(arns.make("ecs", f"task-definition/{task_definition}")))
    if asset.kind == "image" and asset.attributes.get("service") == "ECR":
        found.append(asset.key.partition("@")[0])
    repository = image_repository_arn(asset.image, arns.partition)
    if repository:
        found.append(repository)
    return found


def linked_copy(record: AccessRecord, asset_key: str) -> AccessRecord:
    """The event as it concerns one of the assets built from what it names: an event id of its
    own (the provider's, and which asset), stable from run to run so that ingest deduplicates."""
    suffix = hashlib.sha256(asset_key.encode()).hexdigest()[:16]
    return replace(record, event_id=f"{record.event_id}#{suffix}", asset_key=asset_key)


class HeldEvents:
    """Events that name a task, a task definition or an ECR repository rather than an asset,
    held while the scope's assets are read and then linked to the assets they concern.

    Only what a held event names is looked for among the assets, so the scope's other assets
    cost nothing here; at most ``limit`` events are held (beyond, they keep what they name).
    """

    def __init__(self, arns: Arns, limit: int):
        self.arns = arns
        self.limit = limit
        self.events: list[AccessRecord] = []
        # what an event names -> the keys of the assets built from it: running ones, images
        self.built: dict[str, tuple[list[str], list[str]]] = {}

    def hold(self, record: AccessRecord) -> bool:
        """Keep ``record`` to link later: True when it is held (and not to be written yet)."""
        names_what = _built_from_target(record)
        if not (is_task_event(record) or names_what) or len(self.events) >= self.limit:
            return False
        self.events.append(record)
        if names_what:
            self.built.setdefault(names_what, ([], []))
        return True

    def note(self, asset: DiscoveredAsset) -> None:
        """Remember ``asset`` if a held event concerns what it is built from."""
        if not self.built:
            return
        for target in built_from(asset, self.arns):
            found = self.built.get(target)
            if found is not None:
                kept = found[1] if asset.kind == "image" else found[0]
                if len(kept) < MAX_LINKED_ASSETS:
                    kept.append(asset.key)

    def linked(self, container_key: Callable[[str, str, str], str]) -> Iterator[AccessRecord]:
        """Every held event, linked: a task event to its container (``link_task_event``), any
        other to each asset built from what it names, or as it is when none was found."""
        for record in self.events:
            target = _built_from_target(record)
            if not target:
                yield link_task_event(record, container_key)
                continue
            running, images = self.built[target]
            keys = (running + images)[:MAX_LINKED_ASSETS]
            if not keys:
                yield record
            for key in keys:
                yield linked_copy(record, key)


def _built_from_target(record: AccessRecord) -> str:
    """The task definition family or repository an event names, as assets are built from it."""
    if record.detail.get("task_definition"):
        return task_family_arn(record.asset_key)
    if record.detail.get("repository"):
        return record.asset_key
    return ""


def is_creation(record: AccessRecord) -> bool:
    """A successful Create* of an asset: its actor is the asset's creator."""
    return (
        record.outcome == "success"
        and bool(CREATION.match(record.action))
        and bool(record.asset_key)
    )


def window(cursor: dict, now: datetime, lookback_days: int) -> tuple[datetime, datetime]:
    """(start, end) of the events to read now; the cursor keeps where the last window ended."""
    earliest = now - timedelta(days=min(lookback_days, MAX_LOOKBACK_DAYS))
    since = parse_time(cursor.get("cloudtrail_since"))
    return (max(since, earliest) if since else earliest), now


def next_since(start: datetime, now: datetime) -> str:
    return max(start, now - DELIVERY_DELAY).isoformat()


# --- collect ----------------------------------------------------------------------------------


def collect(region: Region, start: datetime, end: datetime) -> Iterator[AccessRecord]:
    for source in EVENT_SOURCES:
        for event in get_events(region, source, start, end):
            record = transform_event(
                event, partition=region.partition, region=region.region, account=region.account
            )
            if record is not None:
                yield record
