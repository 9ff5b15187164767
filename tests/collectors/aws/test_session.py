"""How the AWS collector reaches AWS: read-only clients, named errors, retries, regions, config."""

import threading
import time

import pytest

from collectors.aws import AwsCollector
from collectors.aws.common import ordered_map
from collectors.aws.session import (
    AccessSettings,
    AwsAccess,
    Region,
    WriteRefused,
    describe_failure,
)
from collectors.base import CollectorError, SourceSettings

from .estate import MAIN, Estate


def region_for(url, name="us-east-1", **settings):
    access = AwsAccess(AccessSettings(endpoint_url=url, **settings))
    return Region(access, access.base_session(), MAIN, name, "aws")


def test_write_operations_are_refused_before_they_are_sent(aws):
    estate = Estate(aws)
    estate.function("keep-me", "python3.13", estate.role("fn"))
    region = region_for(aws)

    with pytest.raises(WriteRefused, match="lambda:DeleteFunction"):
        region.call("lambda", "delete_function", FunctionName="keep-me")
    with pytest.raises(WriteRefused):
        region.call("ecs", "create_cluster", clusterName="nope")

    names = [f["FunctionName"] for f in region.pages("lambda", "list_functions", "Functions")]
    assert names == ["keep-me"]
    assert region.call("ecs", "list_clusters")["clusterArns"] == []


def test_failures_name_the_call_and_region_and_absence_is_only_accepted_where_asked(aws):
    region = region_for(aws, "eu-west-1")
    with pytest.raises(CollectorError, match=r"^lambda:GetFunction eu-west-1: ResourceNotFound"):
        region.call("lambda", "get_function", FunctionName="missing")
    found = region.call(
        "lambda", "get_function", absent=("ResourceNotFoundException",), FunctionName="missing"
    )
    assert found is None
    with pytest.raises(CollectorError, match="eks:DescribeCluster eu-west-1"):
        region.call("eks", "describe_cluster", absent=("AccessDenied",), name="missing")


def test_clients_retry_adaptively_and_throttling_backs_off_until_it_passes(aws, gate):
    region = region_for(gate.url, max_attempts=4)
    client = region.client("lambda")
    # botocore counts the first attempt too: 4 retries are 5 attempts in all
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 5}
    gate.throttled[("lambda", "us-east-1")] = 2

    assert list(region.pages("lambda", "list_functions", "Functions")) == []
    assert [r for r in gate.refused if r[2] == "throttled"] == [
        ("lambda", "us-east-1", "throttled")
    ] * 2


def test_denied_calls_are_errors_never_empty_results(aws, gate):
    gate.denied.add(("lambda", "us-east-1"))
    region = region_for(gate.url)
    with pytest.raises(CollectorError, match="lambda:ListFunctions us-east-1: AccessDenied"):
        list(region.pages("lambda", "list_functions", "Functions"))


def test_endpoints_per_service_win_over_the_source_endpoint(monkeypatch):
    settings = AccessSettings(
        endpoint_url="http://127.0.0.1:9", endpoint_urls={"cloudtrail": "http://127.0.0.1:10"}
    )
    assert settings.endpoint_for("cloudtrail") == "http://127.0.0.1:10"
    assert settings.endpoint_for("lambda") == "http://127.0.0.1:9"
    assert AccessSettings().endpoint_for("lambda") is None  # botocore's own resolution
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:11")
    access = AwsAccess(AccessSettings())
    client = access.client(access.base_session(), "lambda", "us-east-1")
    assert client.meta.endpoint_url == "http://127.0.0.1:11"  # the standard variable is honoured


def test_opt_in_region_errors_say_so():
    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": "UnrecognizedClientException", "Message": "invalid token"}},
        "ListFunctions",
    )
    assert "region enabled" in describe_failure(error)


def test_all_regions_are_the_enabled_ones_of_the_source_partition(aws):
    collector = AwsCollector(SourceSettings("aws", "aws", {}, aws), now=None)
    specs = collector.scopes()
    regions = {spec.params["region"] for spec in specs}
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions
    assert not any(r.startswith(("cn-", "us-gov-")) for r in regions)
    assert all(spec.key == f"{MAIN}/{spec.params['region']}" for spec in specs)


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"regions": "us-east-1"}, "config.regions"),
        ({"regions": []}, "config.regions"),
        ({"role_arn": "admin"}, "config.role_arn"),
        ({"accounts": ["123456789012"]}, "needs config.organization_role_name"),
        ({"organization_role_name": "R", "accounts": ["12"]}, "12-digit"),
        ({"services": ["lambda", "s3"]}, "config.services"),
        ({"endpoint_urls": {"lambda": "ftp://x"}}, "config.endpoint_urls"),
        ({"concurrency": 0}, "config.concurrency"),
        ({"cloudtrail_lookback_days": 365}, "config.cloudtrail_lookback_days"),
        ({"secret_access_key": "x"}, "not a aws setting"),
    ],
)
def test_config_problems_are_named(config, problem):
    problems = AwsCollector.validate_config(config)
    assert any(problem in p for p in problems), problems


def test_a_good_config_has_no_problems():
    config = {
        "regions": ["us-east-1"],
        "organization_role_name": "DaylightReadOnly",
        "accounts": ["123456789012"],
        "role_arn": "arn:aws-us-gov:iam::123456789012:role/path/Daylight",
        "external_id": "daylight",
        "services": ["lambda", "cloudtrail"],
        "endpoint_urls": {"cloudtrail": "https://cloudtrail.example.internal"},
        "concurrency": 8,
        "cloudtrail_lookback_days": 30,
    }
    assert AwsCollector.validate_config(config) == []


def test_ordered_map_keeps_order_bounds_work_in_flight_and_raises_in_turn():
    running, peak, lock = [0], [0], threading.Lock()

    def work(n):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.002 * (n % 3))  # finish out of order
        with lock:
            running[0] -= 1
        if n == 7:
            raise ValueError("seven")
        return n * n

    results = []
    with pytest.raises(ValueError, match="seven"):
        for item, result in ordered_map(work, range(20), workers=3):
            results.append((item, result))
    assert results == [(n, n * n) for n in range(7)]
    assert peak[0] <= 3
