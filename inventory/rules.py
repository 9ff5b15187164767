"""Exposure and hygiene rules: each judges an asset's collected facts and says what it saw.

Collectors report facts; these rules turn them into findings. A rule's ``check`` takes the asset's
normalized row (see ``inventory.normalize``) and a ``RuleContext`` and returns a short detail
string when the problem is present, or None.
"""

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings

from .eol import kubernetes_support, runtime_support
from .models.choices import AssetKind, FindingCategory, Severity

SECRET_NAME = re.compile(
    r"(SECRET|PASSWORD|PASSWD|PWD|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)", re.I
)
UNPINNED_TAGS = {"", "latest", "stable", "main", "master"}
CONTAINER_KINDS = {AssetKind.CONTAINER, AssetKind.WORKLOAD, AssetKind.FUNCTION}
VERSIONED_KINDS = {AssetKind.CLUSTER, AssetKind.DOCKER_HOST}


@dataclass(frozen=True)
class RuleContext:
    now: datetime
    trusted_registries: tuple[str, ...]
    stale_after: timedelta

    @property
    def today(self) -> date:
        return self.now.date()

    @classmethod
    def current(cls, now):
        return cls(
            now=now,
            trusted_registries=tuple(settings.DAYLIGHT_TRUSTED_REGISTRIES),
            stale_after=timedelta(days=settings.DAYLIGHT_STALE_DAYS),
        )


@dataclass(frozen=True)
class Rule:
    slug: str
    category: str
    severity: int
    title: str
    remediation: str
    check: Callable[[dict, RuleContext], str | None]


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    detail: str


# Endpoint auth values that let anyone in: "google" is any Google account (allAuthenticatedUsers).
OPEN_AUTH = {"none", "google"}


def _public_endpoints(row):
    return [e for e in row["endpoints"] if e.get("public")]


def _describe(endpoints):
    return ", ".join(e.get("via") or e.get("address", "") for e in endpoints[:5])


def unauthenticated_endpoint(row, ctx):
    if open_ := [e for e in _public_endpoints(row) if e.get("auth") in OPEN_AUTH]:
        return f"Anyone on the internet can call it: {_describe(open_)}"
    return None


def public_endpoint(row, ctx):
    public = [e for e in _public_endpoints(row) if e.get("auth") not in OPEN_AUTH]
    if public:
        return f"Reachable from the internet: {_describe(public)}"
    return None


def privileged(row, ctx):
    return (
        "Runs privileged: full access to the host." if row["security"].get("privileged") else None
    )


def runs_as_root(row, ctx):
    return "Runs as root (UID 0)." if row["security"].get("run_as_root") is True else None


def host_namespaces(row, ctx):
    shared = row["security"].get("host_namespaces") or []
    return f"Shares the host's {', '.join(map(str, shared))} namespace." if shared else None


def sensitive_mounts(row, ctx):
    mounts = row["security"].get("sensitive_mounts") or []
    return f"Mounts {', '.join(map(str, mounts[:5]))} from the host." if mounts else None


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none); a digest reference has no tag."""
    if "@" in image:
        return "@digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def image_registry(image: str) -> str:
    """Registry host of an image reference; Docker Hub when the first part is not a host."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def unpinned_image(row, ctx):
    image = row["image"]
    if not image:
        return None
    tag = image_tag(image)
    if tag in UNPINNED_TAGS:
        return f"Image {image} is not pinned to a version (tag {tag or 'none'})."
    return None


def untrusted_registry(row, ctx):
    if not row["image"]:
        return None
    registry = image_registry(row["image"])
    if any(fnmatch.fnmatchcase(registry, pattern) for pattern in ctx.trusted_registries):
        return None
    return f"Image comes from {registry}, which is not a trusted registry."


def runtime_eol(row, ctx):
    support = runtime_support(row["runtime"], ctx.today) if row["runtime"] else None
    if support and support.state == "eol":
        return f"Runtime {row['runtime']} reached end of life on {support.ends:%Y-%m-%d}."
    return None


def runtime_deprecating(row, ctx):
    support = runtime_support(row["runtime"], ctx.today) if row["runtime"] else None
    if support and support.state == "deprecating":
        return f"Runtime {row['runtime']} reaches end of life on {support.ends:%Y-%m-%d}."
    return None


def platform_eol(row, ctx):
    if row["kind"] != AssetKind.CLUSTER or not row["platform_version"]:
        return None
    support = kubernetes_support(row["platform_version"], ctx.today)
    if support and support.state == "eol":
        return (
            f"Kubernetes {row['platform_version']} reached end of life on {support.ends:%Y-%m-%d}."
        )
    return None


def secret_env_names(row, ctx):
    names = [n for n in row["security"].get("env_names") or [] if SECRET_NAME.search(str(n))]
    if names:
        return f"Environment variables look like secrets: {', '.join(map(str, names[:10]))}."
    return None


def stale_function(row, ctx):
    if row["kind"] != AssetKind.FUNCTION:
        return None
    last_activity = row["observed"].get("last_invoked_at") or row["provider_modified_at"]
    if isinstance(last_activity, str):
        last_activity = datetime.fromisoformat(last_activity)
    if last_activity and ctx.now - last_activity > ctx.stale_after:
        days = (ctx.now - last_activity).days
        return f"Not modified or invoked for {days} days: delete it if nobody needs it."
    return None


def admin_role(row, ctx):
    if row["security"].get("admin_role"):
        role = row["security"].get("role") or "its role"
        return f"Runs with administrative permissions ({role})."
    return None


def no_audit_logging(row, ctx):
    if row["kind"] == AssetKind.CLUSTER and row["security"].get("audit_logging") is False:
        return "Control-plane audit logging is off: nobody can see who did what."
    return None


RULES = [
    Rule(
        "unauthenticated-endpoint",
        FindingCategory.EXPOSURE,
        Severity.CRITICAL,
        "Unauthenticated internet endpoint",
        "Require authentication (IAM, OIDC, keys) or remove the public endpoint.",
        unauthenticated_endpoint,
    ),
    Rule(
        "public-endpoint",
        FindingCategory.EXPOSURE,
        Severity.MEDIUM,
        "Internet-facing endpoint",
        "Confirm it must be public; otherwise restrict it to private networks or allow-listed "
        "ranges.",
        public_endpoint,
    ),
    Rule(
        "privileged",
        FindingCategory.HYGIENE,
        Severity.HIGH,
        "Privileged container",
        "Drop privileged mode; grant only the specific capabilities needed.",
        privileged,
    ),
    Rule(
        "sensitive-mount",
        FindingCategory.HYGIENE,
        Severity.CRITICAL,
        "Host socket or root mounted",
        "Do not mount the container runtime socket or host root into workloads.",
        sensitive_mounts,
    ),
    Rule(
        "host-namespace",
        FindingCategory.HYGIENE,
        Severity.HIGH,
        "Shares host namespaces",
        "Turn off hostNetwork / hostPID / hostIPC.",
        host_namespaces,
    ),
    Rule(
        "runs-as-root",
        FindingCategory.HYGIENE,
        Severity.MEDIUM,
        "Runs as root",
        "Set a non-root user in the image or the workload's security context.",
        runs_as_root,
    ),
    Rule(
        "unpinned-image",
        FindingCategory.HYGIENE,
        Severity.MEDIUM,
        "Unpinned image",
        "Deploy by immutable version tag or digest, never latest.",
        unpinned_image,
    ),
    Rule(
        "untrusted-registry",
        FindingCategory.HYGIENE,
        Severity.MEDIUM,
        "Untrusted registry",
        "Pull images only from the organisation's trusted registries.",
        untrusted_registry,
    ),
    Rule(
        "runtime-eol",
        FindingCategory.LIFECYCLE,
        Severity.HIGH,
        "End-of-life runtime",
        "Upgrade to a supported runtime version.",
        runtime_eol,
    ),
    Rule(
        "runtime-deprecating",
        FindingCategory.LIFECYCLE,
        Severity.LOW,
        "Runtime nearing end of life",
        "Plan the upgrade before support ends.",
        runtime_deprecating,
    ),
    Rule(
        "platform-eol",
        FindingCategory.LIFECYCLE,
        Severity.HIGH,
        "End-of-life Kubernetes version",
        "Upgrade the cluster to a supported minor version.",
        platform_eol,
    ),
    Rule(
        "secret-env-names",
        FindingCategory.HYGIENE,
        Severity.MEDIUM,
        "Secrets in environment variables",
        "Move secrets to a secrets manager and reference them.",
        secret_env_names,
    ),
    Rule(
        "stale-function",
        FindingCategory.LIFECYCLE,
        Severity.LOW,
        "Stale function",
        "Delete functions nobody uses: they are attack surface with no owner.",
        stale_function,
    ),
    Rule(
        "admin-role",
        FindingCategory.HYGIENE,
        Severity.HIGH,
        "Over-privileged identity",
        "Give the workload a least-privilege role.",
        admin_role,
    ),
    Rule(
        "no-audit-logging",
        FindingCategory.HYGIENE,
        Severity.MEDIUM,
        "No audit logging",
        "Enable control-plane audit logs.",
        no_audit_logging,
    ),
]
RULES_BY_SLUG = {rule.slug: rule for rule in RULES}
EOL_RULES = {"runtime-eol", "platform-eol"}


def evaluate(row: dict, ctx: RuleContext) -> list[Verdict]:
    """Every rule that fires on this asset, with what it saw."""
    verdicts = []
    for rule in RULES:
        detail = rule.check(row, ctx)
        if detail:
            verdicts.append(Verdict(rule, detail[:1000]))
    return verdicts
