"""AWS collector benchmark: an estate served by moto on loopback, collected through boto3.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/daylight_aws_bench \\
        uv run python -m bench.aws [--functions 2000] [--services 500] [--regions 4] \\
        [--concurrency 4] [--scope-concurrency 1 4] [--repeat 3] [--latency-ms 0]

Seeds one account in moto (dummy credentials, 127.0.0.1 only), spread evenly over ``--regions``
regions: ``--functions`` Lambda functions (tags, environment, a function URL on every tenth, a
public resource policy on every twentieth, three shared execution roles) and ``--services`` ECS
Fargate services in clusters of 100, one task definition per ten services. Then, for each
``--concurrency`` (detail calls in flight within one scope):
  collect   the collector alone, scopes one after another, records discarded;
and for each ``--scope-concurrency`` (account+region scopes read at once by the runner),
``--repeat`` times:
  first     ``run_source`` end to end into an emptied database, every asset new;
  rerun     the same again, nothing changed.
Times are reported as the median and range of the repetitions. API calls are counted with a
botocore ``before-call`` hook on every client the collector makes, and reported per asset.
``--latency-ms`` adds a wait before every call is sent, to stand for the network round trip
to AWS that loopback does not have.
CloudTrail is left out: moto does not implement LookupEvents.

Each repetition wipes the inventory tables of the database it is given, so the database name
must contain "bench". moto answers in a thread of this process, so its own work (a few
milliseconds per call, under the same interpreter lock) is part of every figure: real AWS is
slower per call and answers in parallel, which is what both concurrency settings are for.
"""

import argparse
import io
import logging
import os
import statistics
import sys
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2")
SERVICES_PER_CLUSTER = 100
SERVICES_PER_TASK_DEFINITION = 10
TEAMS = ("payments", "platform", "data-science", "identity", "marketing")
RUNTIMES = ("python3.13", "python3.12", "nodejs22.x", "nodejs18.x", "java21", "python3.9")
SEED_WORKERS = 8


# --- the estate -------------------------------------------------------------------------------


def dummy_credentials() -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )


def start_moto() -> tuple[object, str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return 'ok'\n")
    return buffer.getvalue()


def seed(url: str, functions: int, services: int, regions: list[str]) -> None:
    """``functions`` and ``services`` spread evenly over ``regions``."""
    import boto3

    def client(service, region=REGION):
        return boto3.client(service, region_name=region, endpoint_url=url)

    iam = client("iam")
    roles = [
        iam.create_role(RoleName=f"bench-role-{n}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for n in range(3)
    ]
    code = code_zip()
    lambdas = {region: client("lambda", region) for region in regions}

    def make_function(n):
        name = f"fn-{n:05d}"
        lam = lambdas[regions[n % len(regions)]]
        tags = {"team": TEAMS[n % len(TEAMS)]} if n % 4 else {}
        lam.create_function(
            FunctionName=name,
            Runtime=RUNTIMES[n % len(RUNTIMES)],
            Role=roles[n % len(roles)],
            Handler="handler.handle",
            Code={"ZipFile": code},
            Environment={"Variables": {"LOG_LEVEL": "info", "API_TOKEN": "bench-not-a-secret"}},
            Tags=tags,
        )
        if n % 10 == 0:
            lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        if n % 20 == 0:
            lam.add_permission(
                FunctionName=name,
                StatementId="anyone",
                Action="lambda:InvokeFunction",
                Principal="*",
            )

    with ThreadPoolExecutor(SEED_WORKERS) as pool:
        list(pool.map(make_function, range(functions)))
    share = -(-services // len(regions))
    for number, region in enumerate(regions):
        first = number * share
        seed_services(client, region, range(first, min(first + share, services)))


def seed_services(client, region: str, numbers: range) -> None:
    if not numbers:
        return
    ec2, ecs = client("ec2", region), client("ecs", region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="bench", Description="bench", VpcId=vpc)["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    families = sorted({n // SERVICES_PER_TASK_DEFINITION for n in numbers})
    for family in families:
        ecs.register_task_definition(
            family=f"app-{family:03d}",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/app-{family}:1.{family}",
                    "portMappings": [{"containerPort": 8080}],
                    "environment": [{"name": "PORT", "value": "8080"}],
                }
            ],
        )
    for cluster in sorted({n // SERVICES_PER_CLUSTER for n in numbers}):
        ecs.create_cluster(clusterName=f"cluster-{cluster}")

    def make_service(n):
        ecs.create_service(
            cluster=f"cluster-{n // SERVICES_PER_CLUSTER}",
            serviceName=f"svc-{n:04d}",
            taskDefinition=f"app-{n // SERVICES_PER_TASK_DEFINITION:03d}",
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration=network,
            tags=[{"key": "team", "value": TEAMS[n % len(TEAMS)]}] if n % 3 else [],
        )

    with ThreadPoolExecutor(SEED_WORKERS) as pool:
        list(pool.map(make_service, numbers))


# --- measuring --------------------------------------------------------------------------------


class CallCounter:
    """Counts every API call the collector's clients make, by operation."""

    def __init__(self):
        self.calls = Counter()
        self._lock = threading.Lock()

    def __call__(self, model, **_):
        with self._lock:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def take(self) -> Counter:
        with self._lock:
            taken, self.calls = self.calls, Counter()
        return taken


def round_trip(seconds: float):
    """A botocore ``before-send`` hook that waits as a request to AWS would: moto on loopback
    answers in about a millisecond, AWS in tens (the wait releases the interpreter lock, as
    network I/O does)."""

    def wait(**_):
        time.sleep(seconds)  # returns None: botocore goes on to send the request

    return wait


def collector_config(concurrency: int, regions: list[str]) -> dict:
    return {
        "regions": regions,
        "services": ["ecr", "lambda", "ecs", "eks"],
        "concurrency": concurrency,
    }


def collect_only(url: str, concurrency: int, regions: list[str]) -> dict:
    """The collector alone, its scopes one after another: every record, discarded."""
    from datetime import UTC, datetime

    from collectors.aws import AwsCollector
    from collectors.base import SourceSettings
    from collectors.records import DiscoveredAsset

    config = collector_config(concurrency, regions)
    collector = AwsCollector(SourceSettings("bench", "aws", config, url), datetime.now(UTC))
    started = time.perf_counter()
    assets = 0
    for spec in collector.scopes():
        for record in collector.collect(spec, {}):
            assets += isinstance(record, DiscoveredAsset)
    return {"seconds": time.perf_counter() - started, "assets": assets}


def check_database_url() -> None:
    """Refuse to wipe anything but a database meant for benchmarks."""
    url = os.environ.get("DATABASE_URL", "")
    if "bench" not in urlparse(url).path:
        sys.exit(
            "Set DATABASE_URL to a database whose name contains 'bench' (its inventory tables "
            "are wiped), e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/daylight_aws_bench"
        )


def prepare_database(url: str, config: dict):
    from django.apps import apps
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection

    from inventory.models import OwnershipRule, Source, Team

    call_command("migrate", verbosity=0)
    tables = [model._meta.db_table for model in apps.get_app_config("inventory").get_models()]
    flush = connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    connection.ops.execute_sql_flush(flush)
    for position, name in enumerate(TEAMS):
        team = Team.objects.create(name=name, slug=name)
        OwnershipRule.objects.create(
            position=position, name=f"{name} tag", team=team, tag_key="team", tag_value=name
        )
    return Source.objects.create(name="bench-aws", provider="aws", endpoint_url=url, config=config)


def run_once(source, scope_concurrency: int) -> dict:
    from collectors.runner import run_source

    started = time.perf_counter()
    run = run_source(source, concurrency=scope_concurrency)
    seconds = time.perf_counter() - started
    if run.status != "succeeded":
        sys.exit(f"collection failed: {run.error}")
    return {"seconds": seconds, "assets": run.seen, "new": run.new, "changed": run.changed}


def print_rows(rows: list[dict]) -> None:
    header = (
        "concurrency",
        "scopes at once",
        "phase",
        "median (s)",
        "range (s)",
        "assets",
        "assets/s",
        "new",
        "changed",
        "API calls",
        "calls/asset",
    )
    lines = [header]
    for r in rows:
        times = r["times"]
        median = statistics.median(times)
        lines.append(
            (
                str(r["concurrency"]),
                str(r.get("scope_concurrency", "-")),
                r["phase"],
                f"{median:.1f}",
                f"{min(times):.1f}-{max(times):.1f}",
                f"{r['assets']:,}",
                f"{r['assets'] / median:,.0f}",
                f"{r['new']:,}" if "new" in r else "-",
                f"{r['changed']:,}" if "changed" in r else "-",
                f"{r['calls']:,}",
                f"{r['calls'] / max(r['assets'], 1):.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for line in lines:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


def measure_runs(url, counter, config, concurrency, scope_concurrency, repeat) -> list[dict]:
    """``repeat`` times: a first run into an empty inventory, then a re-run of it."""
    rows = {
        phase: {"concurrency": concurrency, "scope_concurrency": scope_concurrency, "phase": phase}
        for phase in ("first", "rerun")
    }
    for _ in range(repeat):
        source = prepare_database(url, config)
        counter.take()
        for phase, row in rows.items():
            result = run_once(source, scope_concurrency)
            row.setdefault("times", []).append(result.pop("seconds"))
            row.update(result, calls=sum(counter.take().values()))
            print(
                f"concurrency {concurrency}, {scope_concurrency} scopes at once: "
                f"{phase} {row['times'][-1]:.1f}s",
                flush=True,
            )
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--regions", type=int, default=4, choices=range(1, len(REGIONS) + 1))
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[4], help="detail calls within a scope"
    )
    parser.add_argument(
        "--scope-concurrency", type=int, nargs="+", default=[1, 4], help="scopes read at once"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="added to every API call before it is sent, as a network round trip would be",
    )
    parser.add_argument("--no-ingest", action="store_true", help="measure the collector alone")
    args = parser.parse_args()

    if not args.no_ingest:
        check_database_url()
    dummy_credentials()
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from collectors.aws import session

    regions = list(REGIONS[: args.regions])
    server, url = start_moto()
    try:
        started = time.perf_counter()
        seed(url, args.functions, args.services, regions)
        print(
            f"seeded {args.functions:,} functions and {args.services:,} services in "
            f"{len(regions)} regions of moto in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        counter = CallCounter()
        session.CLIENT_HOOKS.append(("before-call", counter))
        if args.latency_ms:
            session.CLIENT_HOOKS.append(("before-send", round_trip(args.latency_ms / 1000)))
        rows, operations = [], Counter()
        for concurrency in args.concurrency:
            counter.take()
            result = collect_only(url, concurrency, regions)
            operations = counter.take()
            seconds = result.pop("seconds")
            rows.append(
                {
                    "concurrency": concurrency,
                    "phase": "collect",
                    "times": [seconds],
                    **result,
                    "calls": sum(operations.values()),
                }
            )
            print(f"concurrency {concurrency}: collect {seconds:.1f}s", flush=True)
            if args.no_ingest:
                continue
            config = collector_config(concurrency, regions)
            for scope_concurrency in args.scope_concurrency:
                rows += measure_runs(
                    url, counter, config, concurrency, scope_concurrency, args.repeat
                )
        print_rows(rows)
        print("\nAPI calls of one collection, by operation:")
        for operation, count in operations.most_common():
            print(f"  {operation:45} {count:>7,}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
