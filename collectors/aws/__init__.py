"""The AWS collector: Lambda, ECS/Fargate, EKS, ECR and CloudTrail across accounts and regions.

A source is one account (the credential chain, a ``profile``, or an assumed ``role_arn``) or, with
``organization_role_name``, every member account of an organization reached by assuming that
role in each. Its scopes are one per account and region, plus one for the organization's
account list. Each scope is read on its own: a denied call or a region the account has not
enabled fails that scope alone, and nothing of it is marked gone.

The runner reads several scopes at once (``DAYLIGHT_SCOPE_CONCURRENCY``), so everything shared
between scopes (sessions, assumed roles, the role judge) is thread-safe; within a scope the
per-resource detail calls run a few at a time (``concurrency``) and records stream to ingest
in order as pages arrive.
"""

import re
from collections.abc import Iterator
from functools import partial
from typing import ClassVar

from botocore.exceptions import BotoCoreError, UnknownRegionError

from ..base import Collector
from ..records import Cursor, ScopeSpec
from . import cloudtrail, ecr, ecs, eks, lambda_, organizations
from .common import ScopeContext
from .iam import RoleJudge
from .session import DEFAULT_HOME_REGION, DEFAULT_MAX_ATTEMPTS, AccessSettings, AwsAccess, Region

# The order a scope is read in: access history first, so creators are known for the assets.
SERVICES = ("cloudtrail", "ecr", "lambda", "ecs", "eks")
ASSET_MODULES = {"ecr": ecr, "lambda": lambda_, "ecs": ecs, "eks": eks}
DEFAULT_CONCURRENCY = 4
DEFAULT_LOOKBACK_DAYS = 90
# Events held back until the assets are read (beyond this many, they keep what they name: a
# task event its cluster, a task definition or repository event that ARN).
MAX_HELD_EVENTS = 10_000
ACCOUNT_ID = re.compile(r"^\d{12}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,512}$")
SKIPPED_REGION_STATES = {"not-opted-in"}
ORGANIZATION_SCOPE = "organization"


class AwsCollector(Collector):
    provider = "aws"
    optional_config: ClassVar[tuple[str, ...]] = (
        "regions",
        "profile",
        "role_arn",
        "external_id",
        "home_region",
        "organization_role_name",
        "accounts",
        "exclude_accounts",
        "services",
        "endpoint_urls",
        "cloudtrail_lookback_days",
        "concurrency",
        "max_attempts",
    )

    def __init__(self, source, now):
        super().__init__(source, now)
        config = source.config
        self.services = tuple(s for s in SERVICES if s in config.get("services", SERVICES))
        self.workers = int(config.get("concurrency", DEFAULT_CONCURRENCY))
        self.access = AwsAccess(
            AccessSettings(
                profile=config.get("profile", ""),
                role_arn=config.get("role_arn", ""),
                external_id=config.get("external_id", ""),
                home_region=config.get("home_region", DEFAULT_HOME_REGION),
                endpoint_url=source.endpoint_url,
                endpoint_urls=dict(config.get("endpoint_urls", {})),
                max_attempts=int(config.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
                max_pool_connections=max(10, self.workers + 2),
            )
        )
        self.roles = RoleJudge(self.access.settings.home_region)
        self.identity: dict = {}
        self.collected_accounts: set[str] = set()

    # --- configuration --------------------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        problems = super().validate_config(config)
        if problems or not isinstance(config, dict):
            return problems
        return [*_config_problems(config)]

    # --- scopes ---------------------------------------------------------------------------------

    @property
    def home_region(self) -> str:
        return self.access.settings.home_region

    def _home(self) -> Region:
        """The source's own account, as seen from its home region."""
        if not self.identity:
            session = self.access.base_session()
            probe = Region(self.access, session, "", self.home_region, "aws")
            found = probe.call("sts", "get_caller_identity")
            self.identity = {"account": found["Account"], "partition": found["Arn"].split(":")[1]}
        return Region(
            self.access,
            self.access.base_session(),
            self.identity["account"],
            self.home_region,
            self.identity["partition"],
        )

    def regions(self, home: Region) -> list[str]:
        """The configured regions, or every region enabled for the source's account."""
        wanted = self.source.config.get("regions", "all")
        if wanted != "all":
            return list(wanted)
        listed = home.call("ec2", "describe_regions").get("Regions", [])
        return sorted(
            r["RegionName"]
            for r in listed
            if r.get("OptInStatus") not in SKIPPED_REGION_STATES
            and _in_partition(home.session, r["RegionName"], home.partition)
        )

    def accounts(self, home: Region) -> list[str]:
        """The accounts this source collects: its own, or the organization's active members."""
        config = self.source.config
        if not config.get("organization_role_name"):
            return [home.account]
        members = [a["Id"] for a in organizations.get_accounts(home) if a.get("Status") == "ACTIVE"]
        chosen = set(config.get("accounts") or members) - set(config.get("exclude_accounts", []))
        return [account for account in members if account in chosen]

    def scopes(self) -> list[ScopeSpec]:
        home = self._home()
        accounts = self.accounts(home)
        self.collected_accounts = set(accounts)
        specs = []
        if self.source.config.get("organization_role_name"):
            specs.append(ScopeSpec(f"{home.account}/{ORGANIZATION_SCOPE}", {"organization": True}))
        regions = self.regions(home)
        specs += [
            ScopeSpec(
                f"{account}/{region}", {"account": account, "region": region}, account=account
            )
            for account in accounts
            for region in regions
        ]
        return specs

    # --- collection -----------------------------------------------------------------------------

    def region(self, account: str, region: str) -> Region:
        """``account`` in ``region``: the source's own session, or the organization role."""
        home = self._home()
        if account == home.account:
            session = home.session
        else:
            role_name = self.source.config["organization_role_name"]
            session = self.access.role_session(
                f"arn:{home.partition}:iam::{account}:role/{role_name}"
            )
        return Region(self.access, session, account, region, home.partition)

    def collect(self, scope: ScopeSpec, cursor: dict) -> Iterator:
        context = ScopeContext(today=self.now.date(), workers=self.workers, roles=self.roles)
        if scope.params.get("organization"):
            yield from organizations.collect(self._home(), context, self.collected_accounts)
            return
        region = self.region(scope.params["account"], scope.params["region"])
        context.creators = dict(cursor.get("creators", {}))
        state = {}
        arns = cloudtrail.Arns(region.partition, region.region, region.account)
        held = cloudtrail.HeldEvents(arns, MAX_HELD_EVENTS)
        if "cloudtrail" in self.services:
            lookback = int(
                self.source.config.get("cloudtrail_lookback_days", DEFAULT_LOOKBACK_DAYS)
            )
            start, end = cloudtrail.window(cursor, self.now, lookback)
            learned: dict[str, str] = {}
            for record in cloudtrail.collect(region, start, end):
                if cloudtrail.is_creation(record):
                    learned.setdefault(record.asset_key, record.actor)  # newest first
                if not held.hold(record):  # held ones are linked once the assets are read
                    yield record
            context.creators.update(learned)
            state["cloudtrail_since"] = cloudtrail.next_since(start, end)
        seen = set()
        for service in self.services:
            if service in ASSET_MODULES:
                for asset in ASSET_MODULES[service].collect(region, context):
                    seen.add(asset.key)
                    held.note(asset)
                    yield asset
        yield from held.linked(partial(_task_container_key, context))
        state["creators"] = {key: who for key, who in context.creators.items() if key in seen}
        yield Cursor(state)


def _task_container_key(context: ScopeContext, task: str, container: str, group: str) -> str:
    """The container asset that stands for a task ECS listed, or "" (a task that has ended
    leaves its event on the cluster)."""
    return ecs.task_container_key(task, container, group, context.ecs_tasks, context.ecs_services)


def _in_partition(session, region: str, partition: str) -> bool:
    """False only for a region botocore knows to be in another partition."""
    try:
        return session.get_partition_for_region(region) == partition
    except (UnknownRegionError, BotoCoreError):
        return True


def _config_problems(config: dict) -> Iterator[str]:
    regions = config.get("regions", "all")
    if regions != "all" and not (
        isinstance(regions, list) and regions and all(isinstance(r, str) and r for r in regions)
    ):
        yield 'config.regions must be "all" or a non-empty list of region names'
    if config.get("role_arn") and not ROLE_ARN.match(str(config["role_arn"])):
        yield "config.role_arn must be an IAM role ARN (arn:aws:iam::123456789012:role/Name)"
    role_name = config.get("organization_role_name")
    if role_name is not None and not ROLE_NAME.match(str(role_name)):
        yield "config.organization_role_name must be an IAM role name"
    for key in ("accounts", "exclude_accounts"):
        if key in config:
            value = config[key]
            if not isinstance(value, list) or not all(ACCOUNT_ID.match(str(a)) for a in value):
                yield f"config.{key} must be a list of 12-digit account ids"
            elif not role_name:
                yield f"config.{key} needs config.organization_role_name"
    services = config.get("services", SERVICES)
    if not isinstance(services, list | tuple) or not set(services) <= set(SERVICES):
        yield f"config.services must be a list drawn from {', '.join(SERVICES)}"
    urls = config.get("endpoint_urls", {})
    if not isinstance(urls, dict) or not all(
        isinstance(u, str) and u.startswith(("https://", "http://")) for u in urls.values()
    ):
        yield "config.endpoint_urls must map service names to http(s) URLs"
    for key, low, high in (
        ("cloudtrail_lookback_days", 1, cloudtrail.MAX_LOOKBACK_DAYS),
        ("concurrency", 1, 32),
        ("max_attempts", 1, 20),
    ):
        value = config.get(key, low)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            yield f"config.{key} must be a whole number from {low} to {high}"
