"""Ingest benchmark: a synthetic estate through the real ingest path.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/daylight_bench \\
        uv run python -m bench.ingest [--assets 100000] [--repeat 3 | --resyncs 3]

Each repetition wipes the inventory tables of that database, then measures two phases:
  first   every asset is new;
  resync  the same estate an hour later, with 1% of the assets changed and 1% gone.
A phase is a Source's one Scope read completely: ``ScopeIngest(scope_run).add(record)`` for every
generated record, then ``finish(complete=True)``, as a collector run does it. With ``--resyncs N``
(PostgreSQL) the first sync runs once and the re-sync N times, each on a copy of the database as
the first sync left it.

Each phase runs in a process of its own, so its peak resident memory (getrusage ru_maxrss) is
its own and not the parent's or the previous phase's. Queries are counted with a
connection.execute_wrapper (an executemany counts once).
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

FIRST_SYNC_AT = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
RESYNC_AT = FIRST_SYNC_AT + timedelta(hours=1)
SOURCE_NAME = "bench"
SCOPE_KEY = "111111111111/us-east-1"
ACCOUNT = "111111111111"
REGION = "us-east-1"
# Out of every 100 assets, the one with this remainder changes on the re-sync, and this one goes.
CHANGED_REMAINDER, GONE_REMAINDER = 7, 42

TEAMS = ("payments", "platform", "data-science", "identity", "marketing")
APPS = ("checkout", "ledger", "ingress", "metrics", "etl", "scoring", "auth", "landing", "promo")
ENVS = ("prod", "staging", "dev", "sandbox")
RUNTIMES = ("python3.12", "python3.11", "nodejs22", "java17", "python3.8", "nodejs20")
REGISTRIES = ("123456789012.dkr.ecr.us-east-1.amazonaws.com", "docker.io/library", "ghcr.io/acme")
CLUSTERS = 20  # the first assets are the clusters the containers and services run in
CREATORS = ("maria.garcia", "sam.okafor", "priya.nair", "ci-deployer", "")


# --- the synthetic estate -------------------------------------------------------------------


def cluster_key(number: int) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/cluster-{number}"


def estate(count: int, phase: str) -> Iterator:
    """The ``count`` assets as a collector would yield them in ``phase`` ("first" or "resync")."""
    from collectors.records import DiscoveredAsset, Endpoint

    created = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(CLUSTERS):
        yield DiscoveredAsset(
            key=cluster_key(i),
            provider="aws",
            kind="cluster",
            name=f"cluster-{i}",
            account=ACCOUNT,
            region=REGION,
            labels={"team": "platform", "env": ENVS[i % 4]},
            platform_version="1.35",
            security={"audit_logging": True},
            state="active",
            created_at=created,
            modified_at=created,
        )
    for i in range(CLUSTERS, count):
        bucket = i % 100
        if phase == "resync" and bucket == GONE_REMAINDER:
            continue
        version = 2 if phase == "resync" and bucket == CHANGED_REMAINDER else 1
        team, app, env = TEAMS[i % 5], APPS[i % 9], ENVS[i % 4]
        name = f"{app}-{env}-{i:07d}"
        kind = ("function", "workload", "container")[i % 3]
        labels = {
            "app": app,
            "env": env,
            "tier": ("web", "worker", "batch")[i % 3],
            "version": f"1.{i % 40}.{version}",
            "managed-by": "terraform" if i % 7 else "console",
            "cost-center": f"cc-{1000 + i % 250}",
            "repo": f"github.com/acme/{app}",
            "data-class": ("public", "internal", "confidential")[i % 3],
            "created-by": CREATORS[i % 5] or "unknown",
        }
        if i % 6:  # a sixth of the estate carries no owner tag: shadow IT
            labels["team"] = team
        endpoints = []
        if i % 5 == 0:
            endpoints.append(
                Endpoint(f"https://{name}.lambda-url.{REGION}.on.aws/", True, "iam", "function-url")
            )
        elif i % 50 == 1:
            endpoints.append(Endpoint(f"http://{name}.elb.amazonaws.com:80/", True, "none", "ALB"))
        if kind == "function":
            key = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            runtime, image = RUNTIMES[i % 6], ""
        else:
            key = f"arn:aws:ecs:{REGION}:{ACCOUNT}:{'service' if kind == 'workload' else 'task'}"
            key += f"/cluster-{i % CLUSTERS}/{name}"
            tag = "latest" if i % 11 == 0 else f"1.{i % 40}.{version}"
            runtime, image = "", f"{REGISTRIES[i % 3]}/{app}:{tag}"
        yield DiscoveredAsset(
            key=key,
            provider="aws",
            kind=kind,
            name=name,
            account=ACCOUNT,
            region=REGION,
            namespace=f"cluster-{i % CLUSTERS}" if kind != "function" else "",
            parent_key=cluster_key(i % CLUSTERS) if kind != "function" else "",
            labels=labels,
            runtime=runtime,
            image=image,
            image_digest=f"sha256:{i:064x}" if image else "",
            endpoints=endpoints,
            security={
                "run_as_root": i % 4 == 0,
                "privileged": i % 97 == 0,
                "env_names": ["LOG_LEVEL", "DB_HOST", "DB_PASSWORD" if i % 13 == 0 else "REGION"],
                "role": f"arn:aws:iam::{ACCOUNT}:role/{app}-{env}",
            },
            attributes={
                "memory_mb": (128, 256, 512, 1024)[i % 4],
                "timeout_s": 30,
                "architecture": "arm64" if i % 2 else "x86_64",
                "vpc": f"vpc-{i % 8:08x}",
            },
            state="running",
            observed={"replicas": 1 + i % 3},
            creator=CREATORS[i % 5],
            created_at=created + timedelta(minutes=i),
            modified_at=created + timedelta(minutes=i, days=version * 300),
        )


# --- one phase, in its own process ----------------------------------------------------------


def statement_kind(sql: str) -> str:
    """A statement's verb and table, e.g. 'UPDATE inventory_asset', to group time by."""
    words = re.findall(r'[A-Za-z_."]+', sql[:300])
    verb = words[0].upper() if words else "?"
    marker = {"SELECT": "FROM", "UPDATE": "UPDATE", "INSERT": "INTO", "DELETE": "FROM"}.get(verb)
    upper = [w.upper() for w in words]
    table = words[upper.index(marker) + 1].strip('"') if marker in upper[:-1] else ""
    return f"{verb} {table}".strip()


def run_phase(phase: str, count: int, profile: str | None) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from inventory.ingest import ScopeIngest
    from inventory.models import CollectionRun, RunTrigger, Scope, ScopeRun

    # The schema this process's models expect: a long run can outlive someone's new migration.
    call_command("migrate", verbosity=0)
    generate_started = time.perf_counter()
    for _ in estate(count, phase):
        pass
    generate_seconds = time.perf_counter() - generate_started

    at = FIRST_SYNC_AT if phase == "first" else RESYNC_AT
    scope = Scope.objects.get(source__name=SOURCE_NAME, key=SCOPE_KEY)
    run = CollectionRun.objects.create(
        source=scope.source, trigger=RunTrigger.COMMAND, started_at=at
    )
    scope_run = ScopeRun.objects.create(run=run, scope=scope, started_at=at)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    statements = Counter()
    statement_seconds = Counter()

    def count_query(execute, sql, params, many, context):
        kind = statement_kind(sql)
        statements[kind] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statement_seconds[kind] += time.perf_counter() - started

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count_query):
        ingest = ScopeIngest(scope_run)
        for record in estate(count, phase):
            ingest.add(record)
        ingest.finish(complete=True)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if profiler:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{phase}.prof")

    seen = ingest.counts["seen"]
    return {
        "phase": phase,
        "seconds": seconds,
        # The machine's one-minute load average as the phase began and ended: on a shared
        # machine, what the figures were taken under.
        "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}",
        "generate_seconds": generate_seconds,
        "cpu_seconds": cpu_seconds,
        "assets_per_second": seen / seconds,
        "queries": statements.total(),
        "statements": [
            (kind, statements[kind], seconds) for kind, seconds in statement_seconds.most_common()
        ],
        # ru_maxrss is in KiB on Linux.
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **{name: ingest.counts[name] for name in ("seen", "new", "changed", "gone", "invalid")},
    }


# --- the driver -------------------------------------------------------------------------------


def check_database_url() -> None:
    """Refuse to wipe anything but a database meant for benchmarks."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit(
            "DATABASE_URL is not set. The benchmark wipes the inventory tables of its database;\n"
            "point it at one of its own, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/daylight_bench"
        )
    if "bench" not in urlparse(url).path:
        sys.exit(f"Refusing to wipe {url}: the database name must contain 'bench'.")


def prepare_database() -> None:
    """Create the schema, empty the inventory tables and set up the source, teams and rules."""
    from django.apps import apps
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection

    from inventory.models import OwnershipRule, Scope, Source, Team

    call_command("migrate", verbosity=0)
    tables = [model._meta.db_table for model in apps.get_app_config("inventory").get_models()]
    flush = connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    connection.ops.execute_sql_flush(flush)
    source = Source.objects.create(name=SOURCE_NAME, provider="aws")
    Scope.objects.create(source=source, key=SCOPE_KEY)
    for position, name in enumerate(TEAMS):
        team = Team.objects.create(name=name, slug=name)
        OwnershipRule.objects.create(
            position=position, name=f"{name} tag", team=team, tag_key="team", tag_value=name
        )


def analyze() -> None:
    """Refresh the planner's statistics, as autovacuum would before the next scheduled run."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def spawn_phase(phase: str, args) -> dict:
    command = [sys.executable, "-m", "bench.ingest", "--phase", phase, "--assets", str(args.assets)]
    if args.profile:
        command += ["--profile", args.profile]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def run_reported(phase: str, args, results: dict, repetition: int) -> None:
    result = spawn_phase(phase, args)
    results[phase].append(result)
    print(
        f"  run {repetition} {phase}: {result['seconds']:.1f} s, "
        f"{result['queries']:,} queries, {result['peak_rss_mib']:.0f} MiB, load {result['load']}",
        flush=True,
    )


def run_from_copies(args, results: dict) -> None:
    """One first sync, then ``args.resyncs`` re-syncs, each on a fresh copy of the database as
    the first sync left it: at a million assets a first sync takes a quarter of an hour or more,
    a re-sync well under a minute, and every re-sync should start from the same state."""
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("--resyncs copies databases with CREATE DATABASE ... TEMPLATE: PostgreSQL only")
    name = connection.settings_dict["NAME"]
    snapshot = f"{name}_first_sync"
    prepare_database()
    connection.close()
    run_reported("first", args, results, 1)
    analyze()
    connection.close()
    copy_database(name, snapshot)
    try:
        for repetition in range(1, args.resyncs + 1):
            copy_database(snapshot, name)
            run_reported("resync", args, results, repetition)
    finally:
        drop_database(snapshot)


def _maintenance_connection():
    """A connection to the server's ``postgres`` database, to copy and drop others."""
    import psycopg
    from django.db import connection

    settings = connection.settings_dict
    return psycopg.connect(
        dbname="postgres",
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    )


def copy_database(source: str, target: str) -> None:
    from psycopg import sql

    drop_database(target)
    with _maintenance_connection() as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)
            )
        )


def drop_database(name: str) -> None:
    from psycopg import sql

    with _maintenance_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


COLUMNS = (
    ("seconds", "time (s)", "{:.1f}"),
    ("cpu_seconds", "ingest CPU (s)", "{:.1f}"),
    ("assets_per_second", "assets/s", "{:,.0f}"),
    ("queries", "queries", "{:,.0f}"),
    ("peak_rss_mib", "peak RSS (MiB)", "{:.0f}"),
    ("rss_before_mib", "RSS at start", "{:.0f}"),
    ("generate_seconds", "generating alone (s)", "{:.1f}"),
    ("seen", "seen", "{:,.0f}"),
    ("new", "new", "{:,.0f}"),
    ("changed", "changed", "{:,.0f}"),
    ("gone", "gone", "{:,.0f}"),
    ("load", "load", "{}"),
)


def print_table(title: str, rows: list[dict]) -> None:
    cells = [[header for _, header, _ in COLUMNS]]
    for row in rows:
        cells.append([fmt.format(row[name]) for name, _, fmt in COLUMNS])
    labels = ["phase"] + [row["label"] for row in rows]
    widths = [max(len(str(row[c])) for row in cells) for c in range(len(COLUMNS))]
    label_width = max(map(len, labels))
    print(f"\n{title}")
    for label, row in zip(labels, cells, strict=True):
        values = "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        print(f"{label.ljust(label_width)}  {values}")


def median_row(phase: str, results: list[dict]) -> dict:
    medians = {
        name: statistics.median(r[name] for r in results)
        for name, _, _ in COLUMNS
        if name != "load"
    }
    return {"label": f"{phase} (median of {len(results)})", **medians, "load": ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000, help="estate size (100000)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions; medians are printed")
    parser.add_argument("--profile", help="write cProfile stats to PROFILE.<phase>.prof")
    parser.add_argument(
        "--statements", action="store_true", help="show database time per kind of statement"
    )
    parser.add_argument(
        "--resyncs",
        type=int,
        default=0,
        help="PostgreSQL: one first sync, then this many re-syncs, each on a copy of it",
    )
    parser.add_argument(
        "--phase",
        choices=("first", "resync"),
        help="run only this phase on the database as it is (nothing wiped); print JSON",
    )
    args = parser.parse_args()

    check_database_url()
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if args.phase:
        print(json.dumps(run_phase(args.phase, args.assets, args.profile)))
        return

    from django.conf import settings
    from django.db import connection

    print(
        f"{args.assets:,} assets, {connection.vendor} ({connection.settings_dict['NAME']}), "
        f"batch {settings.DAYLIGHT_INGEST_BATCH}, "
        + (
            f"one first sync and {args.resyncs} re-sync(s) on copies of it"
            if args.resyncs
            else f"{args.repeat} repetition(s)"
        )
    )
    results = {"first": [], "resync": []}
    if args.resyncs:
        run_from_copies(args, results)
    else:
        for repetition in range(1, args.repeat + 1):
            prepare_database()
            connection.close()
            for phase in results:
                run_reported(phase, args, results, repetition)
                if phase == "first":
                    analyze()
                    connection.close()
    if args.statements:
        for phase, runs in results.items():
            print(f"\nWhere {phase} #{len(runs)} spent its database time")
            for kind, count, seconds in runs[-1]["statements"]:
                print(f"  {seconds:8.2f} s  {count:6,}  {kind}")
    rows = [
        {"label": f"{phase} #{n}", **result}
        for phase, runs in results.items()
        for n, result in enumerate(runs, 1)
    ]
    rows += [median_row(phase, runs) for phase, runs in results.items() if len(runs) > 1]
    print_table("Ingest benchmark (time covers add() for every record and finish())", rows)


if __name__ == "__main__":
    main()
