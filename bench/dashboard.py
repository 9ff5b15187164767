"""Dashboard benchmark: a large synthetic estate in PostgreSQL, then every page timed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/daylight_dash_bench SECRET_KEY=bench \\
        uv run python -m bench.dashboard [--assets 100000] [--repeat 15] [--reuse]
                                         [--indexes models|none]

Loading: the estate is written with PostgreSQL's COPY straight into the tables (assets, their
open findings, access events, 90 days of tracking history, collection runs, audit rows), not
through the ingest path: this is a read benchmark, and COPY loads a million assets with their
findings, events and history in about two and a half minutes where ingest would take far
longer (bench/ingest.py measures ingest). The rows are shaped as ingest writes them: owners from
ownership rules, tracking status, exposure, EOL and the worst open finding's severity
consistent with the findings. ``--reuse`` keeps an estate of the same size loaded earlier.

Measuring: each page is requested with Django's test Client as a signed-in user of the role the
page is for, over HTTPS as production serves it (plain HTTP is redirected there); the first
request is reported on its own (cold caches), then ``--repeat`` more give the median and 95th
percentile. Queries per page are counted on every request ("8/15": warm / cold). Last, one
reconciler decision is made and the pages with estate-wide figures are requested once: what a
decision costs the next view; and the cache is emptied, as a collection's new data stamp
leaves it, the figures counted as the collection task counts them (timed), and the same pages
requested once more: what the first view after a collection costs. ``--indexes none`` drops,
in this database only, the PostgreSQL-only indexes inventory's models declare for the
dashboard (``inventory.models.indexes``), to measure what they buy.

The database named by DATABASE_URL is wiped: the command refuses to run against one that holds
sources it did not create, unless ``--force``.
"""

import argparse
import bisect
import hashlib
import itertools
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import cache

SEED = 20261101
NOW = datetime.now(UTC).replace(microsecond=0)
SOURCE_PREFIX = "bench-"
SCOPES_PER_SOURCE = 10
# (provider, share of the sources, the kinds it has with their weights)
PROVIDERS = [
    ("aws", 4, [("function", 50), ("workload", 20), ("container", 26), ("cluster", 4)]),
    ("gcp", 2, [("function", 45), ("workload", 35), ("container", 17), ("cluster", 3)]),
    ("azure", 2, [("function", 40), ("workload", 30), ("container", 27), ("cluster", 3)]),
    ("kubernetes", 1, [("workload", 40), ("container", 58), ("cluster", 2)]),
    ("docker", 1, [("container", 95), ("docker_host", 5)]),
]
TEAMS = [
    "payments", "platform", "data-science", "identity", "marketing", "search", "checkout",
    "logistics", "mobile", "growth", "billing", "fraud", "support", "ml-infra", "security",
    "analytics", "partners", "content", "notifications", "edge",
]  # fmt: skip
APPS = [f"{word}{suffix}" for word in (
    "api", "worker", "cron", "ingest", "render", "sync", "export", "webhook", "gateway", "etl",
    "scorer", "notifier", "resizer", "indexer", "crawler", "auth", "ledger", "report", "proxy",
    "cache",
) for suffix in ("", "-v2", "-batch", "-edge", "-internal")]  # fmt: skip
REGIONS = {
    "aws": ["us-east-1", "eu-west-1", "ap-southeast-2"],
    "gcp": ["europe-west1", "us-central1"],
    "azure": ["westeurope", "eastus"],
    "kubernetes": [""],
    "docker": [""],
}
RUNTIMES = [
    ("python3.12", False), ("python3.11", False), ("nodejs22", False), ("nodejs20", False),
    ("java21", False), ("go1.x", True), ("python3.8", True), ("nodejs16", True), ("dotnet8", False),
]  # fmt: skip
K8S_VERSIONS = ["1.31.2", "1.30.5", "1.29.9", "1.27.16", "1.25.16"]
EOL_K8S = {"1.27.16", "1.25.16"}
RULES_BY_SEVERITY = {
    4: ("privileged", "hygiene"),
    3: ("unauthenticated-endpoint", "exposure"),
    2: ("runtime-eol", "lifecycle"),
    1: ("unpinned-image", "hygiene"),
    0: ("no-audit-logging", "hygiene"),
}
PEOPLE = [f"user{n:03d}@corp.example" for n in range(400)] + ["ci-deployer", "terraform"]
HISTORY_DAYS = 90
COPIED_TABLES = (
    "inventory_asset",
    "inventory_finding",
    "inventory_accessevent",
    "inventory_assetchange",
    "inventory_collectionrun",
    "inventory_scoperun",
)


def set_indexes(choice: str):
    """Measure with inventory's PostgreSQL-only indexes ("models", as migrated) or without them
    ("none": dropped here, in this database only; the next run with "models" builds them again
    from the models' own definitions)."""
    from django.db import connection

    from inventory.models import Asset
    from inventory.models.indexes import PostgresOnlyMixin

    started = time.monotonic()
    with connection.cursor() as cursor:
        present = connection.introspection.get_constraints(cursor, Asset._meta.db_table)
    with connection.schema_editor() as editor:
        for index in Asset._meta.indexes:
            if not isinstance(index, PostgresOnlyMixin):
                continue
            if choice == "models" and index.name not in present:
                editor.add_index(Asset, index)
            elif choice == "none" and index.name in present:
                editor.remove_index(Asset, index)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_asset")
    print(f"Indexes: {choice} ({time.monotonic() - started:.1f}s)", flush=True)


# --- the synthetic estate -------------------------------------------------------------------


def sources():
    """(name, provider) for every source: ten, shared among the providers by weight."""
    result = []
    for provider, share, _ in PROVIDERS:
        result += [(f"{SOURCE_PREFIX}{provider}-{n}", provider) for n in range(share)]
    return result


@cache
def _digest(image: str) -> str:
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


@cache
def _kind_picker(provider):
    """The provider's kinds and their cumulative weights, for ``bisect``."""
    kinds = next(k for p, _, k in PROVIDERS if p == provider)
    return [k for k, _ in kinds], list(itertools.accumulate(w for _, w in kinds))


def asset_row(index, rng, scope, teams):
    """One asset as ingest would store it; ``scope`` is (scope id, source id, provider, n)."""
    scope_id, source_id, provider, scope_number = scope
    kinds, cumulative = _kind_picker(provider)
    kind = kinds[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
    app = APPS[index % len(APPS)]
    name = f"{app}-{index:07d}"
    team = teams[rng.randrange(len(teams))]
    roll = rng.random()
    tracking = "tracked" if roll < 0.75 else ("accepted" if roll < 0.77 else "untracked")
    owner_id = team[0] if tracking != "untracked" else None
    env = rng.choice(("prod", "staging", "dev", "sandbox"))
    labels = {"env": env, "app": app}
    if tracking == "tracked":
        labels["team"] = team[1]
    elif rng.random() < 0.3:
        labels["owner-hint"] = rng.choice(teams)[1].replace("-", "_")
    account = f"{provider}-{scope_number}"
    if provider == "aws":
        account = f"{100000000000 + scope_number:012d}"
    namespace = ""
    if provider == "kubernetes":
        namespace = rng.choice([t[1] for t in teams] + ["default", "sandbox", "kube-system"])
    elif provider == "azure":
        namespace = f"rg-{team[1]}"
    runtime = image = digest = version = ""
    eol = False
    if kind == "function":
        runtime, eol = rng.choice(RUNTIMES)
    elif kind in ("container", "workload"):
        image = f"registry.corp.example/{app}/{name[:-4]}:{rng.randrange(1, 12)}.{rng.randrange(9)}"
        digest = _digest(image)
    else:
        version = rng.choice(K8S_VERSIONS) if kind == "cluster" else "26.1.5"
        eol = version in EOL_K8S
    exposed = rng.random() < 0.07
    privileged = kind in ("container", "workload") and rng.random() < 0.03
    severity = None
    if privileged:
        severity = 4
    elif exposed:
        severity = 3
    elif eol:
        severity = 2
    elif rng.random() < 0.3:
        severity = rng.choice((0, 1, 1))
    first_seen = NOW - timedelta(days=rng.random() * 400)
    gone_at = NOW - timedelta(days=rng.random() * 30) if rng.random() < 0.03 else None
    if gone_at and gone_at < first_seen:
        gone_at = first_seen + timedelta(hours=1)
    endpoints = (
        [{"address": f"https://{name}.example", "public": True, "auth": "none", "via": "url"}]
        if exposed
        else []
    )
    return {
        "id": index + 1,
        "key": f"bench://{provider}/{scope_number}/{kind}/{index}",
        "provider": provider,
        "kind": kind,
        "name": name,
        "account": account,
        "region": rng.choice(REGIONS[provider]),
        "namespace": namespace,
        "parent_key": "",
        "labels": json.dumps(labels),
        "runtime": runtime,
        "image": image,
        "image_digest": digest,
        "platform_version": version,
        "endpoints": json.dumps(endpoints),
        "security": json.dumps({"privileged": privileged, "run_as_root": rng.random() < 0.2}),
        "attributes": json.dumps({"memory": 128 * rng.randrange(1, 9)}),
        "state": "running",
        "observed": "{}",
        "creator": rng.choice(PEOPLE) if rng.random() < 0.7 else "",
        "provider_created_at": first_seen,
        "provider_modified_at": first_seen + timedelta(days=rng.random() * 30),
        "first_seen": first_seen,
        "last_changed": first_seen + timedelta(days=rng.random() * 20),
        "gone_at": gone_at,
        "durable_hash": f"{index:032x}",
        "volatile_hash": f"{index + 1:032x}",
        "owner_basis": "rule" if tracking == "tracked" else ("decision" if owner_id else ""),
        "tracking": tracking,
        "exposed": exposed,
        "eol": eol,
        "max_severity": severity,
        "parent_id": None,
        "owner_rule_id": team[2] if tracking == "tracked" else None,
        "scope_id": scope_id,
        "source_id": source_id,
        "owner_id": owner_id,
        "decision_id": None,
    }


# --- loading --------------------------------------------------------------------------------


def _copy(cursor, table, columns, rows) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
            count += 1
    return count


def wipe(cursor, force):
    from inventory.models import Source

    foreign = Source.objects.exclude(name__startswith=SOURCE_PREFIX)
    if foreign.exists() and not force:
        sys.exit(
            f"This database holds sources the benchmark did not create ({foreign.count()}); "
            "point DATABASE_URL at a benchmark database, or pass --force to wipe it anyway."
        )
    cursor.execute(
        "TRUNCATE inventory_assetchange, inventory_accessevent, inventory_finding, "
        "inventory_trackingdecision, inventory_asset, inventory_scoperun, "
        "inventory_collectionrun, inventory_scope, inventory_ownershiprule, inventory_team, "
        "inventory_source, inventory_auditlog RESTART IDENTITY CASCADE"
    )


def load(count: int, force: bool):
    """Wipe the inventory and COPY an estate of ``count`` assets in."""
    from django.db import connection, transaction

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        wipe(cursor, force)
        findings, events, changes = _load(cursor.cursor, count, started)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"Loaded {count:,} assets, {len(findings):,} findings, {len(events):,} events, "
        f"{len(changes) * 2:,} history rows in {time.monotonic() - started:.1f}s",
        flush=True,
    )


def _load(cursor, count, started):
    from inventory.models import OwnershipRule, Scope, Source, Team

    teams = []
    for slug in TEAMS:
        team = Team.objects.create(name=slug.replace("-", " ").title(), slug=slug)
        rule = OwnershipRule.objects.create(
            name=f"Tag team={slug}", team=team, tag_key="team", tag_value=slug
        )
        teams.append((team.pk, slug, rule.pk))
    scopes = []
    for name, provider in sources():
        source = Source.objects.create(name=name, provider="demo", config={"bench": provider})
        for n in range(SCOPES_PER_SOURCE):
            number = len(scopes)
            scope = Scope.objects.create(
                source=source,
                key=f"{provider}/{number}",
                last_status="succeeded",
                last_run_at=NOW - timedelta(minutes=5),
                last_success_at=NOW - timedelta(minutes=5 + n),
            )
            scopes.append((scope.pk, source.pk, provider, number))
    rng = random.Random(SEED)
    columns = list(asset_row(0, random.Random(0), scopes[0], teams))
    findings, events, changes = [], [], []
    window = NOW - timedelta(days=HISTORY_DAYS)

    def assets():
        for index in range(count):
            row = asset_row(index, rng, scopes[index % len(scopes)], teams)
            if row["max_severity"] is not None:
                findings.append(row)
            if index % 2 == 0:
                events.append(row)
            if row["first_seen"] >= window:
                changes.append(row)
            yield row

    _copy(cursor, "inventory_asset", columns, assets())
    print(f"  {count:,} assets copied in {time.monotonic() - started:.1f}s", flush=True)
    _copy_findings(cursor, findings)
    _copy_events(cursor, events)
    _copy_changes(cursor, changes)
    _copy_runs(cursor, scopes)
    for table in COPIED_TABLES:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    _audit_rows(teams)
    return findings, events, changes


def _copy_findings(cursor, rows):
    columns = ("asset_id", "rule", "category", "severity", "status", "detail", "opened_at")
    _copy(
        cursor,
        "inventory_finding",
        columns,
        (
            dict(
                zip(
                    columns,
                    (
                        row["id"],
                        *RULES_BY_SEVERITY[row["max_severity"]],
                        row["max_severity"],
                        "resolved" if row["gone_at"] else "open",
                        "seen by the benchmark",
                        row["first_seen"],
                    ),
                    strict=True,
                )
            )
            for row in rows
        ),
    )


def _copy_events(cursor, rows):
    columns = ("provider", "event_id", "source_id", "asset_key", "asset_id", "occurred_at",
               "actor", "action", "source_ip", "user_agent", "outcome", "detail")  # fmt: skip
    _copy(
        cursor,
        "inventory_accessevent",
        columns,
        (
            dict(
                zip(
                    columns,
                    (
                        row["provider"],
                        f"evt-{row['id']}",
                        row["source_id"],
                        row["key"],
                        row["id"],
                        row["provider_modified_at"],
                        row["creator"] or "ci-deployer",
                        "UpdateFunctionConfiguration" if row["kind"] == "function" else "patch",
                        f"198.51.100.{row['id'] % 250}",
                        "aws-cli/2.15",
                        "success",
                        "{}",
                    ),
                    strict=True,
                )
            )
            for row in rows
        ),
    )


def _copy_changes(cursor, rows):
    """For every asset first seen within the history window: discovered, and its tracking."""
    columns = ("asset_id", "at", "field", "old", "new")

    def history():
        for row in rows:
            yield dict(zip(columns, (row["id"], row["first_seen"], "lifecycle", None,
                                     '"discovered"'), strict=True))  # fmt: skip
            yield dict(zip(columns, (row["id"], row["first_seen"], "tracking", None,
                                     json.dumps(row["tracking"])), strict=True))  # fmt: skip

    _copy(cursor, "inventory_assetchange", columns, history())


def _copy_runs(cursor, scopes):
    """A daily run of every source for the history window, one scope run per scope."""
    by_source = {}
    for scope_id, source_id, _, _ in scopes:
        by_source.setdefault(source_id, []).append(scope_id)
    counts = {"error": "", "seen": 100, "new": 0, "changed": 1, "gone": 0, "events": 4}
    runs, scope_runs = [], []
    for day in range(HISTORY_DAYS):
        started = NOW - timedelta(days=HISTORY_DAYS - day, minutes=-5)
        for source_id, scope_ids in by_source.items():
            run = {
                "id": len(runs) + 1,
                "source_id": source_id,
                "trigger": "schedule",
                "status": "succeeded",
                "started_at": started,
                "finished_at": started + timedelta(minutes=3),
                **counts,
            }
            runs.append(run)
            scope_runs += [
                {
                    "run_id": run["id"],
                    "scope_id": scope_id,
                    "status": "succeeded",
                    "complete": True,
                    "started_at": started,
                    "finished_at": started + timedelta(seconds=20),
                    **counts,
                }
                for scope_id in scope_ids
            ]
    _copy(cursor, "inventory_collectionrun", list(runs[0]), runs)
    _copy(cursor, "inventory_scoperun", list(scope_runs[0]), scope_runs)


def _audit_rows(teams):
    from inventory.models import AuditLog

    AuditLog.objects.bulk_create(
        AuditLog(
            actor_name="itstaff",
            action="asset.assign",
            object_type="asset",
            object_id=str(n * 97 + 1),
            object_repr=f"{APPS[n % len(APPS)]}-{n * 97:07d}",
            after={"team": teams[n % len(teams)][1], "reason": "", "expires_at": None},
        )
        for n in range(500)
    )


def loaded(count: int) -> bool:
    from inventory.models import Asset

    last = Asset.objects.order_by("-id").values_list("id", flat=True).first()
    return last == count


# --- measuring ------------------------------------------------------------------------------


def pages(first_asset_id, team_slug, actor):
    """(label, role, URL) for every page worth timing; pages not built yet are skipped."""
    from django.urls import NoReverseMatch, reverse

    def url(name, *args, query=""):
        try:
            return reverse(name, args=args) + query
        except NoReverseMatch:
            return None

    week_ago = (NOW - timedelta(days=7)).date()
    explorer = [
        ("assets", ""),
        ("assets: untracked+exposed", "?tracking=untracked&exposed=yes"),
        ("assets: sort by severity", "?sort=-severity"),
        ("assets: account+kind", "?account=100000000003&kind=function"),
        ("assets: unowned, new this week", f"?owner=none&first_seen_after={week_ago}"),
        ("assets: tag team=payments", "?label=team%3Dpayments"),
        ("assets: text search", "?q=webhook-batch-00"),  # 971 matches, late by name
        ("assets: text search, common word", "?q=api"),  # 50,000 matches, early by name
        ("assets: text search, late common word", "?q=webhook"),  # 50,000, late by name
        ("assets: text search, in most keys", "?q=aws"),  # 400,000: every AWS asset's key
        # 50,000 late by name: its short word made the planner expect its matches early
        ("assets: text search, late short word", "?q=sync"),
        ("assets: late common word by severity", "?q=webhook&sort=-severity"),
        ("assets: common word, other provider", "?q=aws&provider=gcp"),  # in no GCP asset
        ("assets: finding=privileged", "?finding=privileged"),
    ]
    wanted = [
        ("overview", "viewer", url("dashboard:overview")),
        *((label, "viewer", url("dashboard:assets", query=query)) for label, query in explorer),
        ("asset detail", "viewer", url("dashboard:asset", first_asset_id)),
        ("teams", "viewer", url("dashboard:teams")),
        ("team detail", "viewer", url("dashboard:team", team_slug)),
        ("reconcile", "reconciler", url("dashboard:reconcile")),
        (
            "reconcile: text search, late word",
            "reconciler",
            url("dashboard:reconcile", query="?q=webhook"),
        ),
        ("unowned", "viewer", url("dashboard:unowned")),
        ("versions", "viewer", url("dashboard:versions")),
        ("access", "viewer", url("dashboard:access")),
        ("access: one actor", "viewer", url("dashboard:access", query=f"?actor={actor}")),
        ("sources", "viewer", url("dashboard:sources")),
        ("audit", "viewer", url("dashboard:audit")),
    ]
    return [(label, role, target) for label, role, target in wanted if target]


def measure(repeat: int):
    from django.core.cache import cache
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from inventory.models import Asset
    from tests.conftest import make_user

    users = {}
    for role in ("viewer", "reconciler"):
        from django.contrib.auth.models import User

        User.objects.filter(username=f"bench-{role}").delete()
        users[role] = make_user(f"bench-{role}", role)
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    deep = Asset.objects.filter(gone_at__isnull=True, kind="function").order_by("-id").first()
    cache.clear()
    results = []
    for label, role, url in pages(deep.pk, TEAMS[0], PEOPLE[7]):
        timings, queries = [], set()
        for _ in range(repeat + 1):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = clients[role].get(url, secure=True)
                elapsed = (time.perf_counter() - started) * 1000
            queries.add(len(captured))
            reset_queries()
            if response.status_code != 200:
                sys.exit(f"{label}: {url} answered {response.status_code}")
            timings.append(elapsed)
        first, rest = timings[0], sorted(timings[1:])
        p95 = rest[min(len(rest) - 1, round(0.95 * (len(rest) - 1)))]
        results.append((label, first, statistics.median(rest), p95, queries))
        print(
            f"  {label:38} first {first:8.1f} ms   median {statistics.median(rest):8.1f} ms   "
            f"p95 {p95:8.1f} ms   queries {'/'.join(map(str, sorted(queries)))}",
            flush=True,
        )
    return results, clients


AFTER_DECISION = ("overview", "teams", "versions")


def measure_after_decision(clients):
    """The first view of the pages with estate-wide figures after one reconciler decision (the
    figures are warm before it): what a decision costs the next person who looks."""
    from django.contrib.auth.models import User
    from django.urls import reverse

    from inventory import services
    from inventory.models import Asset, Team
    from inventory.selectors import warm_rollups

    warm_rollups()
    target = Asset.objects.filter(gone_at__isnull=True, tracking="untracked").order_by("id")[0]
    team = Team.objects.get(slug=TEAMS[0])
    services.assign_owner([target], team, User.objects.get(username="bench-reconciler"))
    print("First view after one decision (figures warm before it):")
    for name in AFTER_DECISION:
        started = time.perf_counter()
        response = clients["viewer"].get(reverse(f"dashboard:{name}"), secure=True)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            sys.exit(f"{name} answered {response.status_code}")
        print(f"  {name:38} {elapsed:8.1f} ms", flush=True)


def measure_after_collection(clients):
    """The first view of the pages with estate-wide figures after a collection: the cache is
    emptied as a new data stamp would leave it, the collection task counts the figures
    (``warm_rollups``, timed: what the worker pays), then each page is requested once."""
    from django.core.cache import cache
    from django.urls import reverse

    from inventory.selectors import warm_rollups

    cache.clear()
    started = time.perf_counter()
    warm_rollups()
    print(
        f"After a collection, the task counts the figures in {time.perf_counter() - started:.2f} s;"
    )
    print("first views then:")
    for name, role in AFTER_COLLECTION:
        started = time.perf_counter()
        response = clients[role].get(reverse(f"dashboard:{name}"), secure=True)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            sys.exit(f"{name} answered {response.status_code}")
        print(f"  {name:38} {elapsed:8.1f} ms", flush=True)


AFTER_COLLECTION = [
    ("overview", "viewer"),
    ("teams", "viewer"),
    ("unowned", "viewer"),
    ("versions", "viewer"),
    ("reconcile", "reconciler"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15, help="Timed requests per page.")
    parser.add_argument("--reuse", action="store_true", help="Keep an estate of this size.")
    parser.add_argument("--force", action="store_true", help="Wipe a database that is not ours.")
    parser.add_argument(
        "--indexes",
        choices=("models", "none"),
        default="models",
        help="Measure with inventory's PostgreSQL-only indexes (default) or without them.",
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database for the benchmark (it is wiped).")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    if args.reuse and loaded(args.assets):
        print(f"Reusing the {args.assets:,} assets already loaded.")
    else:
        print(f"Loading {args.assets:,} assets with COPY …", flush=True)
        set_indexes("none")  # built once after the COPY rather than row by row during it
        load(args.assets, args.force)
    set_indexes(args.indexes)
    print(f"Requesting every page {args.repeat + 1} times:")
    _, clients = measure(args.repeat)
    measure_after_decision(clients)
    measure_after_collection(clients)


if __name__ == "__main__":
    main()
