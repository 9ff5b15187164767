"""The AWS collector end to end: moto in server mode and a local CloudTrail, through boto3,
into the real ingest path and database."""

import io
import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from collectors.aws import session
from collectors.runner import run_source
from config.logs import JsonFormatter
from inventory.coverage import uncovered_accounts
from inventory.models import (
    AccessEvent,
    Asset,
    AssetChange,
    Finding,
    FindingStatus,
    OwnershipRule,
    RunStatus,
    Source,
    Team,
)

from .estate import MAIN, ORG_ROLE, WORKER_IMAGE_TAG, Estate

pytestmark = pytest.mark.django_db

REGIONS = ["us-east-1", "eu-west-1"]
DEV = f"arn:aws:sts::{MAIN}:assumed-role/Developer/dev.intern@acme.example"
CI = f"arn:aws:sts::{MAIN}:assumed-role/Deployer/ci-deployer"
SAM = f"arn:aws:sts::{MAIN}:assumed-role/Platform/sam.okafor@acme.example"


@pytest.fixture
def estate(aws):
    return Estate(aws).seed()


@pytest.fixture
def teams(db):
    payments = Team.objects.create(name="Payments", slug="payments")
    platform = Team.objects.create(name="Platform", slug="platform")
    OwnershipRule.objects.create(
        name="payments tag", team=payments, tag_key="team", tag_value="payments", position=1
    )
    OwnershipRule.objects.create(
        name="platform tag", team=platform, tag_key="team", tag_value="platform", position=2
    )
    return payments, platform


def trail_event(event_id, name, source, when, actor, params=None, response=None, **extra):
    read_only = extra.pop("read_only", False)
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "arn": actor, "accountId": MAIN},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": params,
        "responseElements": response,
        "eventID": event_id,
        "readOnly": read_only,
        "recipientAccountId": MAIN,
        **extra,
    }
    return {
        "EventId": event_id,
        "EventName": name,
        "ReadOnly": "true" if read_only else "false",
        "EventTime": when,
        "EventSource": source,
        "Username": actor.rsplit("/", 1)[-1],
        "Resources": [],
        "CloudTrailEvent": record,
    }


@pytest.fixture
def trail(cloudtrail_server, estate):
    """CloudTrail history of us-east-1: five write events in the window, one read, one too old."""
    now = datetime.now(UTC)
    lam, ecs, eks = "lambda.amazonaws.com", "ecs.amazonaws.com", "eks.amazonaws.com"
    events = [
        trail_event(
            "ev-create-hook",
            "CreateFunction20150331",
            lam,
            now - timedelta(days=5),
            DEV,
            {"functionName": "public-hook", "runtime": "nodejs18.x"},
            {"functionArn": estate.arns["public-hook"]},
        ),
        trail_event(
            "ev-url-hook",
            "CreateFunctionUrlConfig20211031",
            lam,
            now - timedelta(days=4, hours=23),
            CI,
            {"functionName": "public-hook", "authType": "NONE"},
        ),
        trail_event(
            "ev-update-checkout",
            "UpdateFunctionConfiguration20150331v2",
            lam,
            now - timedelta(days=2),
            CI,
            {"functionName": estate.arns["checkout"]},
        ),
        trail_event(
            "ev-denied-checkout",
            "UpdateFunctionCode20150331v2",
            lam,
            now - timedelta(days=1),
            DEV,
            {"functionName": "checkout"},
            errorCode="AccessDenied",
            errorMessage="not authorized",
        ),
        trail_event(
            "ev-read-checkout",
            "GetFunction20150331v2",
            lam,
            now - timedelta(hours=3),
            DEV,
            {"functionName": "checkout"},
            read_only=True,
        ),
        trail_event(
            "ev-create-web",
            "CreateService",
            ecs,
            now - timedelta(days=4),
            SAM,
            {"serviceName": "web", "cluster": "prod"},
            {"service": {"serviceArn": estate.arns["web"]}},
        ),
        trail_event(
            "ev-create-lab", "CreateCluster", eks, now - timedelta(days=10), SAM, {"name": "lab"}
        ),
        trail_event(
            "ev-ancient",
            "DeleteFunction20150331",
            lam,
            now - timedelta(days=120),
            DEV,
            {"functionName": "long-gone"},
        ),
    ]
    for event in events:
        cloudtrail_server.add("us-east-1", **event)
    return cloudtrail_server


def organization_source(estate, trail, **overrides):
    config = {
        "regions": REGIONS,
        "organization_role_name": ORG_ROLE,
        "accounts": [MAIN, estate.sandbox],
        "endpoint_urls": {"cloudtrail": trail.url},
        "concurrency": 4,
        **overrides.pop("config", {}),
    }
    defaults = {"provider": "aws", "endpoint_url": estate.url, "config": config, **overrides}
    source = Source(name="aws-org", **defaults)
    source.full_clean()
    source.save()
    return source


def alive(name):
    return Asset.objects.get(name=name, gone_at__isnull=True)


def open_rules(name):
    return set(
        Finding.objects.filter(asset__name=name, status=FindingStatus.OPEN).values_list(
            "rule", flat=True
        )
    )


def test_collect_command_inventories_the_estate(estate, trail, teams, capsys):
    payments, platform = teams
    source = organization_source(estate, trail)

    call_command("collect", "--source", source.name)

    run = source.runs.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert sorted(source.scopes.values_list("key", flat=True)) == sorted(
        [
            f"{MAIN}/organization",
            f"{MAIN}/us-east-1",
            f"{MAIN}/eu-west-1",
            f"{estate.sandbox}/us-east-1",
            f"{estate.sandbox}/eu-west-1",
        ]
    )
    by_kind = {}
    for kind, name in Asset.objects.values_list("kind", "name"):
        by_kind.setdefault(kind, set()).add(name)
    assert by_kind["function"] == {
        "checkout",
        "public-hook",
        "open-invoke",
        "eu-report",
        "sandbox-fn",
    }
    assert by_kind["workload"] == {"web", "worker", "admin"}
    assert by_kind["container"] == {"web/nginx", "worker/worker", "admin/admin"}
    assert by_kind["cluster"] == {"prod", "lab"}
    assert by_kind["image"] == {"worker:1.4.2"}
    assert by_kind["account"] == {"master", "sandbox", "forgotten-poc"}
    # The member nobody collects is a shadow account.
    assert [a.name for a in uncovered_accounts()] == ["forgotten-poc"]

    # versions, as the rules expect them
    hook = alive("public-hook")
    assert hook.runtime == "nodejs18" and hook.attributes["runtime_deprecated"] is True
    assert hook.security["env_names"] == ["LOG_LEVEL", "STRIPE_API_KEY"]
    assert "sk_test" not in str(Asset.objects.values_list("security", "attributes"))
    assert alive("lab").platform_version == "1.27"
    nginx = alive("web/nginx")
    assert (nginx.image, nginx.parent.name, nginx.parent.parent.name) == (
        "nginx:latest",
        "web",
        "prod",
    )
    checkout = alive("checkout").attributes
    assert checkout["aliases"] == {"live": "1"} and checkout["published_versions"] == 1
    assert [
        (v["alias"], v["version"], v["weight"], v["runtime"]) for v in checkout["live_versions"]
    ] == [("live", "1", 1.0, "python3.13")]
    assert checkout["versions"][0]["code_sha256"] == checkout["code_sha256"]
    sandbox_fn = alive("sandbox-fn")
    assert (sandbox_fn.account, sandbox_fn.region) == (estate.sandbox, "us-east-1")

    # owners from tags and rules; untagged resources are untracked
    assert alive("checkout").owner == payments and alive("checkout").tracking == "tracked"
    assert alive("open-invoke").owner == platform
    assert alive("web/nginx").owner == payments  # the service's tags reach its containers
    for untracked in ("public-hook", "worker", "lab", "sandbox-fn"):
        assert alive(untracked).tracking == "untracked", untracked

    # findings
    assert {"unauthenticated-endpoint", "runtime-eol", "secret-env-names", "admin-role"} <= (
        open_rules("public-hook")
    )
    assert "unauthenticated-endpoint" in open_rules("open-invoke")  # Principal *, no condition
    assert "unauthenticated-endpoint" in open_rules("checkout")  # HTTP API route, no auth
    assert {"privileged", "unpinned-image", "runs-as-root"} <= open_rules("web/nginx")
    assert "public-endpoint" in open_rules("web")  # internet-facing load balancer, public IP
    assert {"public-endpoint", "platform-eol", "no-audit-logging"} <= open_rules("lab")
    assert not {"privileged", "runs-as-root", "unpinned-image"} & open_rules("worker/worker")
    assert alive("public-hook").exposed and not alive("worker").exposed

    # a public IP is exposed only where a security group lets the internet reach the port
    web_ports = [e for e in alive("web").endpoints if e["address"].startswith("task public IP")]
    assert web_ports == [
        {
            "address": "task public IP:80/tcp",
            "public": True,
            "auth": "",
            "via": f"assignPublicIp ENABLED; {estate.arns['web_group']} (web) allows 0.0.0.0/0 "
            "on tcp 80",
        }
    ]
    admin = alive("admin")
    assert not admin.exposed and "public-endpoint" not in open_rules("admin")
    assert {(e["address"], e["public"], e["via"]) for e in admin.endpoints} == {
        (
            "task public IP:8080/tcp",
            False,
            f"assignPublicIp ENABLED; no rule of {estate.arns['admin_group']} opens 8080/tcp "
            "to the internet",
        ),
        (estate.arns["admin_elb_dns"], False, "classic load balancer admin-internal -> admin:8080"),
    }

    # access history: write events in the window only, linked to their assets
    events = {e.event_id: e for e in AccessEvent.objects.all()}
    assert set(events) == {
        "ev-create-hook",
        "ev-url-hook",
        "ev-update-checkout",
        "ev-denied-checkout",
        "ev-create-web",
        "ev-create-lab",
    }
    assert events["ev-create-hook"].asset == hook and events["ev-create-hook"].actor == DEV
    assert events["ev-update-checkout"].asset.name == "checkout"
    assert events["ev-denied-checkout"].outcome == "AccessDenied"
    assert events["ev-create-web"].asset.name == "web"
    assert events["ev-create-lab"].asset.name == "lab"
    # the creator of an asset is whoever created it, not who configured it afterwards
    assert hook.creator == DEV and alive("lab").creator == SAM and alive("web").creator == SAM

    # shadow accounts: every member is reported; the collector says which it reads itself
    accounts = {a.name: a for a in Asset.objects.filter(kind="account")}
    assert accounts["forgotten-poc"].attributes["collected"] is False
    assert accounts["sandbox"].attributes["collected"] is True
    assert accounts["sandbox"].owner == platform  # member account tags are labels too
    assert "aws-org" in capsys.readouterr().out


def test_a_second_run_changes_nothing_and_reads_events_from_the_cursor(estate, trail, teams):
    source = organization_source(estate, trail)
    first = run_source(source)
    assert first.status == RunStatus.SUCCEEDED, first.error
    first_requests = len(trail.requests)

    second = run_source(source)

    assert second.status == RunStatus.SUCCEEDED, second.error
    assert (second.new, second.changed, second.gone, second.events) == (0, 0, 0, 0)
    assert second.seen == first.seen
    assert AssetChange.objects.filter(run__run=second).count() == 0
    # the second run asks only for events since the first run's window ended
    later = [r for r in trail.requests[first_requests:] if r["region"] == "us-east-1"]
    assert later and all(
        datetime.fromtimestamp(r["StartTime"], UTC) > first.started_at - timedelta(hours=1)
        for r in later
    )
    # creators learned from events that are now outside the window are kept by the cursor
    assert alive("public-hook").creator == DEV


def test_a_deleted_function_is_marked_gone_with_a_timeline_entry(estate, trail, teams):
    source = organization_source(estate, trail)
    run_source(source)
    assert "unauthenticated-endpoint" in open_rules("checkout")

    estate.client("lambda").delete_function(FunctionName="checkout")
    run = run_source(source)

    assert run.status == RunStatus.SUCCEEDED and run.gone == 1
    checkout = Asset.objects.get(name="checkout")
    assert checkout.gone_at is not None
    change = checkout.changes.get(field="lifecycle", new="gone")
    assert change.run.run == run
    assert not open_rules("checkout")
    assert Asset.objects.filter(gone_at__isnull=True, kind="function").count() == 4


def test_access_denied_in_one_region_leaves_its_assets_intact(estate, trail, gate):
    source = organization_source(estate, trail, endpoint_url=gate.url)
    assert run_source(source).status == RunStatus.SUCCEEDED

    gate.denied.add(("lambda", "eu-west-1"))
    estate.client("lambda").delete_function(FunctionName="open-invoke")  # a change elsewhere
    run = run_source(source)

    assert run.status == RunStatus.PARTIAL
    statuses = dict(run.scope_runs.values_list("scope__key", "status"))
    assert statuses[f"{MAIN}/eu-west-1"] == RunStatus.FAILED
    assert statuses[f"{MAIN}/us-east-1"] == RunStatus.SUCCEEDED
    failed = run.scope_runs.get(scope__key=f"{MAIN}/eu-west-1")
    assert "lambda:ListFunctions eu-west-1" in failed.error and "AccessDenied" in failed.error
    assert alive("eu-report")  # nothing of the failed region is marked gone
    assert Asset.objects.get(name="open-invoke").gone_at is not None  # the other region went on
    assert gate.refused


def test_a_source_reaches_another_account_by_assuming_its_role(estate, trail):
    source = Source.objects.create(
        name="aws-sandbox",
        provider="aws",
        endpoint_url=estate.url,
        config={
            "regions": ["us-east-1"],
            "role_arn": f"arn:aws:iam::{estate.sandbox}:role/{ORG_ROLE}",
            "external_id": "daylight-test",
            "services": ["lambda", "ecs"],
        },
    )

    run = run_source(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert list(source.scopes.values_list("key", flat=True)) == [f"{estate.sandbox}/us-east-1"]
    assert list(Asset.objects.values_list("name", "account")) == [("sandbox-fn", estate.sandbox)]


def run_tasks(estate):
    """Two tasks in cluster prod (bridge mode: moto cannot run awsvpc tasks): a standalone
    migration, and a replica of service web (group service:web)."""
    ecs = estate.client("ecs")
    for family, container in (("migrate", "migrate"), ("web-replica", "nginx")):
        ecs.register_task_definition(
            family=family,
            networkMode="bridge",
            containerDefinitions=[
                {"name": container, "image": f"{family}:1", "memory": 128, "cpu": 64}
            ],
        )
    job = ecs.run_task(cluster="prod", taskDefinition="migrate", launchType="FARGATE")
    replica = ecs.run_task(
        cluster="prod", taskDefinition="web-replica", launchType="FARGATE", group="service:web"
    )
    return job["tasks"][0], replica["tasks"][0]


def test_pushes_task_runs_and_execs_show_on_the_assets_they_touched(estate, trail):
    job, replica = run_tasks(estate)
    digest = estate.client("ecr").describe_images(repositoryName="worker")["imageDetails"][0][
        "imageDigest"
    ]
    now = datetime.now(UTC)
    ecr, ecs = "ecr.amazonaws.com", "ecs.amazonaws.com"
    image = {"repositoryName": "worker", "registryId": MAIN, "imageId": {"imageDigest": digest}}
    gone_task = f"arn:aws:ecs:us-east-1:{MAIN}:task/prod/00000000000000000000000000000000"
    for event in (
        trail_event("ev-layer", "InitiateLayerUpload", ecr, now - timedelta(hours=5), CI),
        trail_event("ev-push", "PutImage", ecr, now - timedelta(hours=5), CI, {}, {"image": image}),
        trail_event(
            "ev-run",
            "RunTask",
            ecs,
            now - timedelta(hours=4),
            SAM,
            {"cluster": "prod", "taskDefinition": "migrate"},
            {"tasks": [job], "failures": []},
        ),
        trail_event(
            "ev-exec",
            "ExecuteCommand",
            ecs,
            now - timedelta(hours=3),
            DEV,
            {"cluster": "prod", "container": "nginx", "command": "sh", "task": replica["taskArn"]},
            {
                "taskArn": replica["taskArn"],
                "containerName": "nginx",
                "clusterArn": estate.arns["prod"],
            },
        ),
        trail_event(
            "ev-exec-gone",
            "ExecuteCommand",
            ecs,
            now - timedelta(hours=2),
            DEV,
            {"cluster": "prod", "container": "app", "command": "sh", "task": gone_task},
        ),
    ):
        trail.add("us-east-1", **event)
    source = organization_source(estate, trail, config={"accounts": [MAIN]})

    run = run_source(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    events = {e.event_id: e for e in AccessEvent.objects.select_related("asset")}
    assert "ev-layer" not in events
    assert events["ev-push"].asset == alive("worker:1.4.2") and events["ev-push"].actor == CI
    job_container = Asset.objects.get(key=f"{job['taskArn']}/container/migrate")
    assert events["ev-run"].asset == job_container and events["ev-run"].actor == SAM
    assert events["ev-exec"].asset == alive("web/nginx")  # the service's replica
    assert events["ev-exec-gone"].asset == alive("prod")  # the task has ended: its cluster
    assert events["ev-exec"].detail["tasks"] == [
        {"task": replica["taskArn"], "container": "nginx", "group": ""}
    ]


def test_a_member_account_whose_role_is_refused_fails_alone(estate, trail, gate):
    """Two member accounts reached by the organization role; AWS refuses the role in one."""
    member = estate.assume(estate.forgotten)
    estate.function(
        "poc-api", "python3.12", estate.role("poc-exec", credentials=member), credentials=member
    )
    source = organization_source(
        estate,
        trail,
        endpoint_url=gate.url,
        config={"accounts": [MAIN, estate.sandbox, estate.forgotten]},
    )
    assert run_source(source).status == RunStatus.SUCCEEDED
    refused_role = f"arn:aws:iam::{estate.sandbox}:role/{ORG_ROLE}"

    gate.denied_roles.add(refused_role)
    estate.client("lambda", credentials=member).delete_function(FunctionName="poc-api")
    run = run_source(source)

    assert run.status == RunStatus.PARTIAL
    by_key = {s.scope.key: s for s in run.scope_runs.select_related("scope")}
    for region in REGIONS:
        failed = by_key[f"{estate.sandbox}/{region}"]
        assert failed.status == RunStatus.FAILED and not failed.complete
        assert f"sts:AssumeRole {refused_role}" in failed.error
        assert "AccessDenied" in failed.error
        for account in (MAIN, estate.forgotten):
            assert by_key[f"{account}/{region}"].status == RunStatus.SUCCEEDED
    assert by_key[f"{MAIN}/organization"].status == RunStatus.SUCCEEDED
    assert alive("sandbox-fn").account == estate.sandbox  # nothing of it is marked gone
    assert Asset.objects.get(name="poc-api").gone_at is not None  # the other member went on
    assert alive("checkout") and alive("eu-report")
    assert ("sts", "us-east-1", f"AssumeRole {refused_role}") in gate.refused


def test_each_scope_counts_its_api_requests_and_throttled_ones(estate, trail, gate):
    """Every HTTP attempt is counted on its scope's run (four regions and the organization), in
    the worker threads too, and the throttled answers separately (botocore retried them, so the
    run still succeeds). The gate throttles Lambda in eu-west-1 twice, whichever account's scope
    asks first: scopes are read at the same time."""
    source = organization_source(estate, trail, endpoint_url=gate.url)
    gate.throttled[("lambda", "eu-west-1")] = 2
    run = run_source(source)

    assert run.status == RunStatus.SUCCEEDED
    counted = {s.scope.key: (s.api_calls, s.throttled) for s in run.scope_runs.all()}
    assert len(counted) == 5 and all(calls > 0 for calls, _ in counted.values())
    in_eu = [throttled for key, (_, throttled) in counted.items() if key.endswith("/eu-west-1")]
    assert sum(in_eu) == 2
    assert all(t == 0 for key, (_, t) in counted.items() if not key.endswith("/eu-west-1"))
    # Each throttled answer was an attempt of its own, counted among the calls.
    assert all(calls > throttled for calls, throttled in counted.values())
    assert len([r for r in gate.refused if r[2] == "throttled"]) == 2


def test_a_runs_logs_carry_its_ids_and_never_a_credential(estate, trail, gate, monkeypatch):
    """Everything logged during a collection that assumes roles and fails one region, at DEBUG:
    the key in the environment and the assumed roles' temporary keys never appear."""
    secret = "daylight-secret-" + "f00d" * 8
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    source = organization_source(estate, trail, endpoint_url=gate.url)
    gate.denied.add(("lambda", "eu-west-1"))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        run = run_source(source)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert run.status == RunStatus.PARTIAL
    warnings = [line for line in lines if line["level"] == "WARNING"]
    failed = {line["scope"] for line in warnings if line["logger"] == "collectors.runner"}
    assert f"{MAIN}/eu-west-1" in failed and f"{MAIN}/us-east-1" not in failed
    assert all(line["run_id"] == run.pk for line in lines if line["logger"].startswith("collect"))
    assert secret not in text
    assert "SecretAccessKey" not in text and "SessionToken" not in text


def as_json(response: dict) -> dict:
    return json.loads(json.dumps(response, default=str))


def test_task_definition_and_repository_events_show_on_what_is_built_from_them(estate, trail):
    ecs, ecr = estate.client("ecs"), estate.client("ecr")
    # as CloudTrail records them: JSON, times as text
    registered = as_json(ecs.describe_task_definition(taskDefinition="worker")["taskDefinition"])
    repository = as_json(ecr.describe_repositories(repositoryNames=["worker"])["repositories"][0])
    policy = '{"Version":"2012-10-17","Statement":[]}'
    now = datetime.now(UTC)
    ecs_source, ecr_source = "ecs.amazonaws.com", "ecr.amazonaws.com"
    for event in (
        trail_event(
            "ev-register-worker",
            "RegisterTaskDefinition",
            ecs_source,
            now - timedelta(hours=6),
            CI,
            {"family": "worker"},
            {"taskDefinition": registered},
        ),
        trail_event(
            "ev-deregister-old-worker",
            "DeregisterTaskDefinition",
            ecs_source,
            now - timedelta(hours=5),
            CI,
            {"taskDefinition": "worker:0"},
        ),
        trail_event(
            "ev-create-repository",
            "CreateRepository",
            ecr_source,
            now - timedelta(days=3),
            SAM,
            {"repositoryName": "worker"},
            {"repository": repository},
        ),
        trail_event(
            "ev-repository-policy",
            "SetRepositoryPolicy",
            ecr_source,
            now - timedelta(hours=4),
            DEV,
            {"repositoryName": "worker", "policyText": policy},
            {"registryId": MAIN, "repositoryName": "worker", "policyText": policy},
        ),
        trail_event(
            "ev-gone-repository",
            "DeleteRepository",
            ecr_source,
            now - timedelta(hours=3),
            DEV,
            {"repositoryName": "scratch", "force": True},
        ),
    ):
        trail.add("us-east-1", **event)
    source = organization_source(estate, trail, config={"accounts": [MAIN]})

    first = run_source(source)

    assert first.status == RunStatus.SUCCEEDED, first.error
    linked = {}
    for event in AccessEvent.objects.select_related("asset").order_by("id"):
        linked.setdefault(event.event_id.split("#")[0], set()).add(
            event.asset.name if event.asset else event.asset_key
        )
    # a revision of the worker family: the container it runs in service worker
    assert linked["ev-register-worker"] == linked["ev-deregister-old-worker"] == {"worker/worker"}
    # the repository: the two services' containers running its image, and the image itself
    in_repository = {"worker/worker", "admin/admin", f"worker:{WORKER_IMAGE_TAG}"}
    assert linked["ev-repository-policy"] == linked["ev-create-repository"] == in_repository
    # a repository nothing here is built from keeps its own ARN, unlinked
    assert linked["ev-gone-repository"] == {f"arn:aws:ecr:us-east-1:{MAIN}:repository/scratch"}
    policy_events = AccessEvent.objects.filter(action="SetRepositoryPolicy")
    assert {e.actor for e in policy_events} == {DEV}
    assert {e.detail["repository"] for e in policy_events} == {repository["repositoryArn"]}
    assert policy not in json.dumps(list(policy_events.values_list("detail", flat=True)))

    stored = AccessEvent.objects.count()
    source.scopes.update(cursor={})  # the next run reads the same events again

    second = run_source(source)

    assert second.status == RunStatus.SUCCEEDED, second.error
    # linked again to the same assets, under the same ids: nothing new
    assert second.events == 0 and AccessEvent.objects.count() == stored


def test_function_tags_are_read_once_per_region_not_per_function(estate, trail, teams, monkeypatch):
    calls = Counter()

    def count(model, **_):
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    monkeypatch.setattr(session, "CLIENT_HOOKS", [*session.CLIENT_HOOKS, ("before-call", count)])
    source = organization_source(estate, trail)

    run = run_source(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert calls["lambda:ListTags"] == 0
    # once in each of the four scopes (two accounts, two regions), whatever their functions
    assert calls["resourcegroupstaggingapi:GetResources"] == len(REGIONS) * 2
    payments, platform = teams
    assert alive("checkout").labels == {"team": "payments"} and alive("checkout").owner == payments
    assert alive("open-invoke").owner == platform
    assert alive("eu-report").labels == {"team": "data"}
    assert alive("public-hook").labels == {} and alive("sandbox-fn").labels == {}
