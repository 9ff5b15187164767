"""The AWS transforms: recorded-shape responses in, normalized records out, no database."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from collectors.aws import apigateway, cloudtrail, ecr, ecs, eks, iam, lambda_, organizations
from collectors.aws.common import labels_from_tags, parse_time
from collectors.records import DiscoveredAsset, Endpoint
from inventory.eol import runtime_support

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT, REGION = "111111111111", "eu-west-1"
TODAY = date(2026, 11, 22)


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


LAMBDA, GATEWAY, ECS = fixture("lambda"), fixture("apigateway"), fixture("ecs")
EKS_ECR, TRAIL = fixture("eks_ecr"), fixture("cloudtrail_organizations")
TASK_TRAIL, DEFINITION_TRAIL = fixture("cloudtrail_tasks"), fixture("cloudtrail_definitions")


def function(name):
    return next(f for f in LAMBDA["list_functions"]["Functions"] if f["FunctionName"] == name)


# --- Lambda -----------------------------------------------------------------------------------


def test_tags_are_read_for_every_function_at_once():
    tags = lambda_.tags_by_function(LAMBDA["get_resources"]["ResourceTagMappingList"])
    prefix = "arn:aws:lambda:eu-west-1:111111111111:function"
    assert labels_from_tags(tags[f"{prefix}:invoice-render"]) == {
        "team": "billing",
        "cost-center": "cc-42",
        "<script>": "alert(1)",
    }
    # tagged once, every tag removed since: listed without tags; never tagged: not listed
    assert tags[f"{prefix}:thumbnailer"] == [] and f"{prefix}:edge-auth" not in tags


def test_a_zip_function_keeps_names_not_values_and_says_how_it_is_reached():
    tags = lambda_.tags_by_function(LAMBDA["get_resources"]["ResourceTagMappingList"])
    details = {
        "tags": tags["arn:aws:lambda:eu-west-1:111111111111:function:invoice-render"],
        "url": LAMBDA["get_function_url_config"],
        "policy": LAMBDA["get_policy_public"],
        "aliases": LAMBDA["list_aliases"]["Aliases"],
    }
    routes = [
        {
            "api": "partner-api",
            "api_id": "rest000001",
            "route": "GET /invoices",
            "address": "https://rest000001.execute-api.eu-west-1.amazonaws.com GET /invoices",
            "auth": "key",
            "public": True,
        }
    ]
    asset = lambda_.transform_function(
        function("invoice-render"),
        details,
        account=ACCOUNT,
        region=REGION,
        routes=routes,
        role={"role": "arn:aws:iam::111111111111:role/x", "admin_role": False},
        creator="arn:aws:sts::111111111111:assumed-role/Dev/maria",
        today=TODAY,
    )

    assert asset.key == "arn:aws:lambda:eu-west-1:111111111111:function:invoice-render"
    assert (asset.kind, asset.name, asset.account, asset.region) == (
        "function",
        "invoice-render",
        ACCOUNT,
        REGION,
    )
    assert asset.runtime == "python3.9"
    assert asset.attributes["runtime_deprecated_on"] == "2025-12-15"
    assert asset.attributes["runtime_deprecated"] is True
    assert asset.security["env_names"] == ["DB_PASSWORD", "LOG_LEVEL", "TABLE_NAME"]
    assert "value-that-must-never-be-stored" not in repr(asset)
    assert asset.labels == {"team": "billing", "cost-center": "cc-42", "<script>": "alert(1)"}
    assert asset.attributes["vpc"] is True and asset.attributes["aliases"] == {"live": "12"}
    assert asset.attributes["layers"] == ["arn:aws:lambda:eu-west-1:111111111111:layer:pdfkit:7"]
    assert asset.endpoints == [
        Endpoint(details["url"]["FunctionUrl"], True, "none", "function-url"),
        Endpoint(asset.key, True, "none", "resource policy allows Principal * (any AWS account)"),
        Endpoint(routes[0]["address"], True, "key", "api-gateway partner-api GET /invoices"),
    ]
    assert asset.security["public_invoke"] is True
    assert asset.modified_at == datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert asset.creator.endswith("/maria") and asset.state == "Active"
    assert asset.observed["code_size"] == 5242880


def test_published_versions_and_the_versions_aliases_keep_live():
    details = {
        "tags": {},
        "aliases": LAMBDA["list_aliases_weighted"]["Aliases"],
        "versions": LAMBDA["list_versions_by_function"]["Versions"],
    }
    asset = lambda_.transform_function(
        function("invoice-render"), details, account=ACCOUNT, region=REGION, today=TODAY
    )
    attributes = asset.attributes
    assert attributes["published_versions"] == 3
    assert [v["version"] for v in attributes["versions"]] == ["12", "11", "3"]  # newest first
    assert attributes["versions"][2] == {
        "version": "3",
        "runtime": "python3.7",
        "code_sha256": "b2xkLW9sZC1vbGQ=",
        "last_modified": "2022-05-02T14:10:07+00:00",
        "runtime_deprecated": True,
    }
    # prod sends 90% to 11 and 10% to 12; legacy keeps a 2022 version on python3.7 live
    assert [
        (v["alias"], v["version"], v["weight"], v["runtime"]) for v in attributes["live_versions"]
    ] == [
        ("legacy", "3", 1, "python3.7"),
        ("prod", "11", 0.9, "python3.9"),
        ("prod", "12", 0.1, "python3.9"),
    ]
    assert attributes["aliases"] == {"prod": "11", "legacy": "3"}
    assert asset.runtime == "python3.9"  # $LATEST's, what an unqualified call runs


def test_only_the_newest_versions_are_kept():
    versions = [
        {"Version": str(n), "Runtime": "python3.13", "CodeSha256": f"c{n}"} for n in range(1, 60)
    ]
    aliases = [{"Name": "first", "FunctionVersion": "1"}]
    facts = lambda_.transform_versions(versions, aliases, TODAY)
    assert facts["published_versions"] == 59 and len(facts["versions"]) == lambda_.MAX_VERSIONS
    assert facts["versions"][0]["version"] == "59"
    assert facts["live_versions"][0]["code_sha256"] == "c1"  # found though not among the kept


def test_an_image_function_records_its_image_and_digest_and_no_runtime():
    details = {"tags": {}, "url": None, "policy": None, "aliases": []}
    details["code"] = LAMBDA["get_function_image"]["Code"]
    asset = lambda_.transform_function(
        function("thumbnailer"), details, account=ACCOUNT, region=REGION, today=TODAY
    )
    assert asset.runtime == "" and "runtime_deprecated_on" not in asset.attributes
    assert asset.image == "111111111111.dkr.ecr.eu-west-1.amazonaws.com/thumbnailer:2.3.1"
    assert asset.image_digest.startswith("sha256:5b0bcabd")
    assert asset.attributes["architectures"] == ["arm64"] and asset.endpoints == []


def test_only_an_unconditioned_principal_star_is_public_invoke():
    conditioned = lambda_.transform_policy(LAMBDA["get_policy_apigateway"]["Policy"])
    assert conditioned["public_invoke"] is False
    assert conditioned["invokers"] == [
        {"principals": ["apigateway.amazonaws.com"], "conditioned": True}
    ]
    url_only = json.loads(LAMBDA["get_policy_public"]["Policy"])
    url_only["Statement"] = url_only["Statement"][:1]  # the function URL's own statement
    assert lambda_.transform_policy(json.dumps(url_only))["public_invoke"] is False
    assert lambda_.transform_policy(LAMBDA["get_policy_public"]["Policy"])["public_invoke"]
    assert lambda_.transform_policy("{not json")["public_invoke"] is False


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("python3.12", "python3.12"),
        ("nodejs18.x", "nodejs18"),
        ("go1.x", "go1.x"),
        ("java8.al2", "java8.al2"),
        ("provided.al2023", "provided.al2023"),
        ("", ""),
    ],
)
def test_runtimes_are_canonical_as_the_rules_expect(raw, canonical):
    assert lambda_.canonical_runtime(raw) == canonical


def test_the_runtime_table_agrees_with_the_end_of_life_rules():
    """Where both tables know a runtime, AWS's deprecation date is the date the rules judge by."""
    for runtime, deprecated_on in lambda_.runtime_deprecations().items():
        support = runtime_support(lambda_.canonical_runtime(runtime), TODAY)
        if support is not None:
            assert support.ends == deprecated_on, runtime


# --- API Gateway ------------------------------------------------------------------------------


def test_http_api_routes_resolve_to_unqualified_functions_with_their_auth():
    api = GATEWAY["get_apis"]["Items"][0]
    pairs = list(
        apigateway.transform_http_routes(
            api, GATEWAY["get_integrations"]["Items"], GATEWAY["get_routes"]["Items"]
        )
    )
    routes = apigateway.index_routes(pairs)
    prefix = "arn:aws:lambda:eu-west-1:111111111111:function:"
    assert set(routes) == {prefix + "edge-auth", prefix + "invoice-render"}
    login = routes[prefix + "edge-auth"][0]
    assert (login["route"], login["auth"], login["public"]) == ("POST /login", "none", True)
    assert login["address"] == "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com POST /login"
    assert routes[prefix + "invoice-render"][0]["auth"] == "jwt"


def test_rest_api_methods_say_key_iam_and_private():
    partner, internal = GATEWAY["get_rest_apis"]["items"]
    found = list(
        apigateway.transform_rest_routes(
            partner, GATEWAY["get_resources_partner"]["items"], REGION, "aws"
        )
    )
    found += list(
        apigateway.transform_rest_routes(
            internal, GATEWAY["get_resources_internal"]["items"], REGION, "aws-cn"
        )
    )
    summary = {(r["route"], r["auth"], r["public"]) for _, r in found}
    assert summary == {
        ("GET /invoices", "key", True),
        ("DELETE /invoices", "iam", True),
        ("POST /jobs", "none", False),
    }
    assert any("amazonaws.com.cn" in r["address"] for _, r in found)


# --- IAM --------------------------------------------------------------------------------------


def test_roles_are_admin_by_aws_policy_or_by_a_policy_that_allows_everything():
    managed = [
        {
            "PolicyName": "AdministratorAccess",
            "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
        }
    ]
    assert iam.transform_role("arn:r", managed, [], [])["admin_role"] is True
    lookalike = [
        {
            "PolicyName": "AdministratorAccess",
            "PolicyArn": "arn:aws:iam::111111111111:policy/AdministratorAccess",
        }
    ]
    assert iam.transform_role("arn:r", lookalike, [], [])["admin_role"] is False
    assert iam.grants_everything(
        LAMBDA["iam_customer_admin_policy_version"]["PolicyVersion"]["Document"]
    )
    assert not iam.grants_everything(
        LAMBDA["iam_scoped_policy_version"]["PolicyVersion"]["Document"]
    )
    assert iam.transform_role("arn:r", [], ["inline-all"], ["inline-all"])["admin_role"] is True


# --- ECS --------------------------------------------------------------------------------------


def load_balancers():
    return ecs.index_load_balancers(
        ECS["describe_target_groups"]["TargetGroups"],
        ECS["describe_load_balancers"]["LoadBalancers"],
    )


def test_a_cluster_and_a_service_behind_public_and_internal_load_balancers():
    cluster = ecs.transform_cluster(
        ECS["describe_clusters"]["clusters"][0], account=ACCOUNT, region=REGION
    )
    assert (cluster.kind, cluster.name, cluster.labels) == (
        "cluster",
        "payments",
        {"team": "payments"},
    )
    assert cluster.attributes["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]

    api = ECS["describe_services"]["services"][0]
    definition = ECS["describe_task_definition_api"]["taskDefinition"]
    service = ecs.transform_service(
        api, definition, load_balancers(), account=ACCOUNT, region=REGION
    )
    assert (service.kind, service.parent_key) == ("workload", cluster.key)
    assert service.attributes["launch_type"] == "FARGATE"  # decided by its capacity providers
    assert service.creator == "arn:aws:iam::111111111111:role/terraform-deployer"
    assert [(e.address, e.public) for e in service.endpoints] == [
        ("api-public-1234567890.eu-west-1.elb.amazonaws.com", True),
        ("internal-api-internal-987654321.eu-west-1.elb.amazonaws.com", False),
    ]
    assert service.created_at == datetime(2025, 6, 1, 10, tzinfo=UTC)


def test_a_public_ip_exposes_the_container_ports():
    api = {**ECS["describe_services"]["services"][0], "loadBalancers": []}
    api["networkConfiguration"] = {"awsvpcConfiguration": {"assignPublicIp": "ENABLED"}}
    definition = ECS["describe_task_definition_api"]["taskDefinition"]
    service = ecs.transform_service(api, definition, {}, account=ACCOUNT, region=REGION)
    assert [(e.address, e.public) for e in service.endpoints] == [("task public IP:8080/tcp", True)]


GROUPS = {g["GroupId"]: g for g in ECS["describe_security_groups"]["SecurityGroups"]}


def public_ip_service(*group_ids, port=8080, protocol="tcp"):
    api = {**ECS["describe_services"]["services"][0], "loadBalancers": []}
    api["networkConfiguration"] = {
        "awsvpcConfiguration": {"assignPublicIp": "ENABLED", "securityGroups": list(group_ids)}
    }
    definition = ECS["describe_task_definition_api"]["taskDefinition"]
    definition = {
        **definition,
        "containerDefinitions": [
            {
                "name": "api",
                "image": "api:1",
                "portMappings": [{"containerPort": port, "protocol": protocol}],
            }
        ],
    }
    return ecs.transform_service(
        api, definition, {}, account=ACCOUNT, region=REGION, security_groups=GROUPS
    )


def test_a_public_ip_is_exposed_by_the_security_group_rule_that_opens_its_port():
    service = public_ip_service("sg-0office00000000000", "sg-0api000000000000a")
    assert service.endpoints == [
        Endpoint(
            "task public IP:8080/tcp",
            True,
            "",
            "assignPublicIp ENABLED; sg-0api000000000000a (api-tasks) allows 0.0.0.0/0 on tcp 8080",
        )
    ]
    assert service.attributes["security_groups"] == [
        "sg-0office00000000000",
        "sg-0api000000000000a",
    ]


@pytest.mark.parametrize(
    ("groups", "port", "protocol", "public"),
    [
        (["sg-0office00000000000"], 8080, "tcp", False),  # only 10.0.0.0/8 and a prefix list
        (["sg-0office00000000000"], 22, "tcp", True),  # the world on 22
        (["sg-0api000000000000a"], 9000, "tcp", False),  # only from another group
        (["sg-0api000000000000a"], 8080, "udp", False),  # the rule is for tcp
        (["sg-0v6000000000000000"], 5432, "udp", True),  # all traffic from ::/0
    ],
)
def test_security_group_rules_decide_a_public_ip_port(groups, port, protocol, public):
    (endpoint,) = public_ip_service(*groups, port=port, protocol=protocol).endpoints
    assert endpoint.public is public
    if not public:
        assert endpoint.via == (
            f"assignPublicIp ENABLED; no rule of {', '.join(groups)} opens {port}/{protocol} "
            "to the internet"
        )


def test_a_public_ip_with_unknown_security_groups_stays_public():
    for groups in ([], ["sg-0deleted"]):
        (endpoint,) = public_ip_service(*groups).endpoints
        assert endpoint.public and endpoint.via.endswith("(security groups unknown)")


def test_classic_load_balancers_are_public_when_internet_facing():
    classic = {
        lb["LoadBalancerName"]: lb
        for lb in ECS["describe_classic_load_balancers"]["LoadBalancerDescriptions"]
    }
    api = {
        **ECS["describe_services"]["services"][0],
        "loadBalancers": [
            {"loadBalancerName": "legacy-public", "containerName": "api", "containerPort": 8080},
            {"loadBalancerName": "legacy-internal", "containerName": "api", "containerPort": 5432},
            {"loadBalancerName": "deleted-meanwhile", "containerName": "api", "containerPort": 1},
        ],
    }
    definition = ECS["describe_task_definition_api"]["taskDefinition"]
    service = ecs.transform_service(
        api, definition, {}, account=ACCOUNT, region=REGION, classic_load_balancers=classic
    )
    assert [(e.address, e.public, e.via) for e in service.endpoints] == [
        (
            "legacy-public-1234.eu-west-1.elb.amazonaws.com",
            True,
            "classic load balancer legacy-public -> api:8080",
        ),
        (
            "internal-legacy-internal-5678.eu-west-1.elb.amazonaws.com",
            False,
            "classic load balancer legacy-internal -> api:5432",
        ),
    ]
    assert service.attributes["load_balancers"][0]["classic"] == "legacy-public"


def test_containers_carry_image_digest_user_and_names_never_values():
    described = ECS["describe_task_definition_api"]
    digests = ecs.running_digests(ECS["describe_tasks"]["tasks"])
    td_arn = described["taskDefinition"]["taskDefinitionArn"]
    service_key = "arn:aws:ecs:eu-west-1:111111111111:service/payments/api"
    api, envoy = ecs.transform_containers(
        described["taskDefinition"],
        key_prefix=service_key,
        parent_key=service_key,
        parent_name="api",
        labels={**labels_from_tags(described["tags"]), "team": "payments"},
        digests={c: d for (arn, c), d in digests.items() if arn == td_arn},
        account=ACCOUNT,
        region=REGION,
    )
    assert api.key == f"{service_key}/container/api" and api.name == "api/api"
    assert api.image_digest.startswith("sha256:9f86d0")
    assert api.security["run_as_root"] is False and api.security["read_only_rootfs"] is True
    assert api.security["env_names"] == ["JWT_SECRET", "PORT"]
    assert api.security["secret_refs"] == ["DB_URL"]
    assert "never-store-this" not in repr(api)
    assert api.labels == {"team": "payments", "owner-email": "api@acme.example"}
    assert api.attributes["task_definition"] == "api:42"
    assert envoy.security["run_as_root"] is True and envoy.image.endswith(":latest")
    assert envoy.image_digest == ""


def test_a_daemon_that_shares_the_host_is_recorded_as_such():
    described = ECS["describe_task_definition_agent"]
    (agent,) = ecs.transform_containers(
        described["taskDefinition"],
        key_prefix="svc",
        parent_key="svc",
        parent_name="metrics-agent",
        labels={},
        digests={},
        account=ACCOUNT,
        region=REGION,
    )
    assert agent.security["privileged"] is True and agent.security["run_as_root"] is True
    assert agent.security["host_namespaces"] == ["network", "pid"]
    assert agent.security["capabilities_added"] == ["NET_ADMIN", "SYS_ADMIN"]
    assert agent.security["sensitive_mounts"] == ["/proc/", "/var/run/docker.sock"]


def test_only_tasks_outside_services_are_standalone():
    tasks = ECS["describe_tasks"]["tasks"]
    assert [ecs.standalone(t) for t in tasks] == [False, True]
    assert ecs.launch_type(tasks[1]) == "EC2"


# --- EKS and ECR ------------------------------------------------------------------------------


def test_an_eks_cluster_with_a_restricted_endpoint_and_audit_logs():
    asset = eks.transform_cluster(
        EKS_ECR["describe_cluster"]["cluster"],
        [EKS_ECR["describe_nodegroup"]["nodegroup"]],
        account=ACCOUNT,
        region=REGION,
    )
    assert (asset.kind, asset.platform_version) == ("cluster", "1.29")
    assert asset.security["audit_logging"] is True
    assert asset.attributes["control_plane_logs"] == ["api", "audit", "authenticator"]
    (endpoint,) = asset.endpoints
    assert endpoint.public is False and "198.51.100.0/24" in endpoint.via
    (group,) = asset.attributes["node_groups"]
    assert (group["version"], group["ssh_access"], group["max_size"]) == ("1.28", True, 10)
    assert asset.labels == {"team": "platform", "env": "prod"}


def test_an_eks_endpoint_without_cidrs_is_open_to_everyone():
    cluster = {**EKS_ECR["describe_cluster"]["cluster"], "logging": {}}
    cluster["resourcesVpcConfig"] = {"endpointPublicAccess": True}
    asset = eks.transform_cluster(cluster, [], account=ACCOUNT, region=REGION)
    assert asset.endpoints[0].public is True and asset.security["audit_logging"] is False


def test_ecr_images_name_their_version_and_carry_the_scan_summary():
    repository = EKS_ECR["describe_repositories"]["repositories"][0]
    tags = EKS_ECR["list_tags_for_resource"]["tags"]
    scanned, untagged = (
        ecr.transform_image(image, repository, tags, account=ACCOUNT, region=REGION)
        for image in EKS_ECR["describe_images"]["imageDetails"]
    )
    assert scanned.key == f"{repository['repositoryArn']}@{scanned.image_digest}"
    assert (scanned.kind, scanned.name, scanned.image) == ("image", "api:3.2.1", "")
    assert scanned.attributes["vulnerabilities"] == {"CRITICAL": 1, "HIGH": 4, "MEDIUM": 9}
    assert scanned.attributes["tags"] == ["3.2.1", "latest"] and scanned.labels == {
        "team": "payments"
    }
    assert scanned.observed["last_pulled_at"] == "2026-11-21T23:59:00+00:00"
    assert (
        untagged.name == "api@sha256:000000000000" and untagged.attributes["vulnerabilities"] == {}
    )


# --- CloudTrail and Organizations -------------------------------------------------------------


def events():
    return [
        cloudtrail.transform_event(e, partition="aws", region=REGION, account=ACCOUNT)
        for e in TRAIL["lookup_events"]["Events"]
    ]


def test_write_events_name_their_asset_actor_and_outcome():
    created, updated, denied, read, nodegroup, malformed = events()
    assert read is None  # read-only events are not kept
    assert created.asset_key == "arn:aws:lambda:eu-west-1:111111111111:function:invoice-render"
    assert created.actor.endswith(
        "assumed-role/AWSReservedSSO_Developer_0123/maria.garcia@acme.example"
    )
    assert (created.source_ip, created.outcome) == ("198.51.100.23", "success")
    assert created.occurred_at == datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    assert "HIDDEN" not in json.dumps(created.detail)  # request parameters are not copied
    assert updated.asset_key == "arn:aws:ecs:eu-west-1:111111111111:service/payments/api"
    assert denied.asset_key == "arn:aws:eks:eu-west-1:111111111111:cluster/platform"
    assert denied.outcome == "AccessDeniedException" and denied.detail["error_message"]
    assert nodegroup.asset_key == denied.asset_key
    assert (malformed.asset_key, malformed.actor) == ("", "bot")
    assert [cloudtrail.is_creation(r) for r in (created, updated, denied, nodegroup)] == [
        True,
        False,
        False,
        False,
    ]


def task_trail():
    return [
        cloudtrail.transform_event(e, partition="aws", region=REGION, account=ACCOUNT)
        for e in TASK_TRAIL["lookup_events"]["Events"]
    ]


def test_a_push_names_its_image_and_layer_uploads_are_dropped():
    push, layer, *_ = task_trail()
    assert layer is None  # one of the many steps of a push; PutImage says it happened
    assert push.action == "PutImage" and push.asset_key == (
        "arn:aws:ecr:eu-west-1:111111111111:repository/thumbnailer@sha256:5b0bcabd1ed22e9fb1310cf"
        "6c2dec7cdef19f0ad69efa1f392e94a4333501270"
    )
    assert push.actor.endswith("/maria.garcia@acme.example")


def test_task_events_name_their_cluster_and_tasks_never_the_command():
    _, _, run, execute, stop = task_trail()
    cluster = "arn:aws:ecs:eu-west-1:111111111111:cluster/payments"
    assert run.asset_key == execute.asset_key == cluster
    job = "arn:aws:ecs:eu-west-1:111111111111:task/payments/0f9a1c2b3d4e4f5a8b7c6d5e4f3a2b1c"
    assert run.detail["tasks"] == [
        {
            "task": job,
            "container": "migrate",
            "group": "family:db-migrate",
        }
    ]
    assert execute.detail["tasks"][0]["container"] == "api"
    assert "hunter2" not in repr(execute) and "HIDDEN" not in repr(execute)  # command, token
    # refused, with no response: the cluster comes from the task's ARN
    assert stop.outcome == "AccessDeniedException"
    assert stop.asset_key == "arn:aws:ecs:eu-west-1:111111111111:cluster/batch"
    assert all(cloudtrail.is_task_event(e) for e in (run, execute, stop))


def test_task_events_link_to_the_container_that_stands_for_the_task():
    _, _, run, execute, stop = task_trail()
    tasks, services = {}, {}
    cluster = "arn:aws:ecs:eu-west-1:111111111111:cluster/payments"
    ecs.remember_tasks(TASK_TRAIL["describe_tasks"]["tasks"], cluster, tasks)
    services[(cluster, "api")] = "arn:aws:ecs:eu-west-1:111111111111:service/payments/api"

    def container_key(task, container, group):
        return ecs.task_container_key(task, container, group, tasks, services)

    linked = [cloudtrail.link_task_event(e, container_key) for e in (run, execute, stop)]
    assert [e.asset_key for e in linked] == [
        # a standalone task is its own container asset
        "arn:aws:ecs:eu-west-1:111111111111:task/payments/0f9a1c2b3d4e4f5a8b7c6d5e4f3a2b1c"
        "/container/migrate",
        # a service's replica, named by its id alone: the service's container stands for it
        "arn:aws:ecs:eu-west-1:111111111111:service/payments/api/container/api",
        # a task ECS no longer lists stays on its cluster
        "arn:aws:ecs:eu-west-1:111111111111:cluster/batch",
    ]


def definition_trail():
    return [
        cloudtrail.transform_event(e, partition="aws", region=REGION, account=ACCOUNT)
        for e in DEFINITION_TRAIL["lookup_events"]["Events"]
    ]


def test_task_definition_and_repository_events_name_what_they_concern():
    register, deregister, create, set_policy, *configured, delete, refused = definition_trail()
    prefix = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/payments-api"
    assert register.asset_key == register.detail["task_definition"] == f"{prefix}:7"
    assert deregister.asset_key == f"{prefix}:5"  # the request named "payments-api:5"
    assert refused.outcome == "ClientException" and refused.asset_key == prefix  # no response
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/payments/api"
    assert [e.asset_key for e in (create, set_policy, *configured)] == [repository] * 5
    assert [e.action for e in configured] == [
        "DeleteRepositoryPolicy",
        "PutImageScanningConfiguration",
        "PutLifecyclePolicy",
    ]
    assert all(e.detail["repository"] == repository for e in (create, set_policy, *configured))
    # another registry's repository, as the response describes it
    assert delete.asset_key == f"arn:aws:ecr:{REGION}:222222222222:repository/legacy/batch"
    # request data (an environment value, a policy) is never copied
    assert "HIDDEN" not in repr(register) and "Principal" not in repr(set_policy)


def test_images_resolve_to_their_ecr_repository():
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/payments/api"
    for image in (
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments/api:3.1.0",
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments/api@sha256:{'a' * 64}",
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments/api",
    ):
        assert cloudtrail.image_repository_arn(image, "aws") == repository
    china = "222222222222.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1"
    assert cloudtrail.image_repository_arn(china, "aws-cn") == (
        "arn:aws-cn:ecr:cn-north-1:222222222222:repository/app"
    )
    for elsewhere in ("nginx:latest", "ghcr.io/acme/api:1", "public.ecr.aws/acme/api:1", ""):
        assert cloudtrail.image_repository_arn(elsewhere, "aws") == ""


def held_assets():
    """A service's two containers of family payments-api, a standalone task of another family
    running the same image, a function of another registry, and the repository's images."""
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments/api:3.1.0"
    service = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/payments/api"
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/payments/api"

    def container(key, family, image):
        attributes = {"service": "ECS", "task_definition": family}
        return DiscoveredAsset(key, "aws", "container", key, image=image, attributes=attributes)

    return [
        container(f"{service}/container/api", "payments-api:6", image),
        container(f"{service}/container/proxy", "payments-api:6", "envoyproxy/envoy:v1.31"),
        container("arn:aws:ecs:task/payments/abc/container/job", "payments-migrate:2", image),
        DiscoveredAsset(
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f",
            "aws",
            "function",
            "f",
            image=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/other:1",
        ),
        *(
            DiscoveredAsset(
                f"{repository}@sha256:{n}",
                "aws",
                "image",
                f"payments/api:{n}",
                attributes={"service": "ECR"},
            )
            for n in range(2)
        ),
    ]


def test_held_events_link_to_every_asset_built_from_what_they_name():
    register, deregister, _, set_policy, *_, delete, refused = definition_trail()
    held = cloudtrail.HeldEvents(cloudtrail.Arns("aws", REGION, ACCOUNT), limit=100)
    assert all(held.hold(e) for e in (register, deregister, set_policy, delete, refused))
    api, proxy, job, function, *images = held_assets()
    for asset in (*images, api, proxy, job, function):  # ECR is read before ECS
        held.note(asset)

    linked = list(held.linked(lambda *_: ""))

    by_event = {}
    for record in linked:
        by_event.setdefault(record.event_id.split("#")[0], []).append(record.asset_key)
    # every revision of the family concerns the service's containers, not another family's
    assert by_event[register.event_id] == [api.key, proxy.key]
    assert by_event[deregister.event_id] == by_event[refused.event_id] == [api.key, proxy.key]
    # the repository: what runs its images first, then the images it holds
    assert by_event[set_policy.event_id] == [api.key, job.key, *(i.key for i in images)]
    # another registry's repository: nothing here is built from it, so it stays as it was
    assert by_event[delete.event_id] == [delete.asset_key]
    unlinked = next(r for r in linked if r.event_id == delete.event_id)
    assert unlinked == delete
    # one access event per asset, with an id of its own that the next run gives it again
    ids = [r.event_id for r in linked]
    assert len(set(ids)) == len(ids)
    again = cloudtrail.HeldEvents(cloudtrail.Arns("aws", REGION, ACCOUNT), limit=100)
    again.hold(register)
    again.note(proxy)
    first_time = next(
        r.event_id
        for r in linked
        if r.event_id.startswith(f"{register.event_id}#") and r.asset_key == proxy.key
    )
    assert [r.event_id for r in again.linked(lambda *_: "")] == [first_time]


def test_held_events_are_bounded_and_so_are_the_assets_one_event_is_linked_to():
    register, *_ = definition_trail()
    held = cloudtrail.HeldEvents(cloudtrail.Arns("aws", REGION, ACCOUNT), limit=1)
    assert held.hold(register) and not held.hold(register)
    for n in range(cloudtrail.MAX_LINKED_ASSETS + 5):
        attributes = {"service": "ECS", "task_definition": "payments-api:7"}
        held.note(DiscoveredAsset(f"c{n}", "aws", "container", "c", attributes=attributes))
    assert len(list(held.linked(lambda *_: ""))) == cloudtrail.MAX_LINKED_ASSETS


def test_function_keys_from_names_partial_and_qualified_arns():
    arns = cloudtrail.Arns("aws", REGION, ACCOUNT)
    expected = "arn:aws:lambda:eu-west-1:111111111111:function:f"
    for given in ("f", f"{ACCOUNT}:function:f", f"{expected}:live", expected):
        assert arns.function(given) == expected


def test_the_event_window_starts_at_the_cursor_or_the_lookback():
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert cloudtrail.window({}, now, 7) == (now - timedelta(days=7), now)
    assert cloudtrail.window({}, now, 400)[0] == now - timedelta(days=90)
    since = now - timedelta(hours=2)
    assert cloudtrail.window({"cloudtrail_since": since.isoformat()}, now, 7)[0] == since
    assert parse_time(cloudtrail.next_since(since, now)) == now - cloudtrail.DELIVERY_DELAY


def test_member_accounts_become_account_assets():
    management, suspended = (
        organizations.transform_account(a, [], listed_by=ACCOUNT, collected=a["Id"] == ACCOUNT)
        for a in TRAIL["list_accounts"]["Accounts"]
    )
    assert (management.kind, management.account, management.name) == (
        "account",
        ACCOUNT,
        "acme-management",
    )
    assert management.attributes["organization"] == "o-a1b2c3d4e5"
    assert management.attributes["collected"] is True
    assert suspended.attributes["collected"] is False and suspended.state == "suspended"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-14T09:26:53.000+0000", datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)),
        ("2026-11-22T05:19:58.394976000Z", datetime(2026, 11, 22, 5, 19, 58, 394976, tzinfo=UTC)),
        ("2026-11-22 07:00:00+02:00", datetime(2026, 11, 22, 5, tzinfo=UTC)),
        (1763790000, datetime(2025, 11, 22, 5, 40, tzinfo=UTC)),
        ("yesterday", None),
    ],
)
def test_times_in_every_shape_aws_sends(text, expected):
    assert parse_time(text) == expected
