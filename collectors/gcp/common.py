"""What the Google Cloud modules share: resource keys, timestamps, runtimes and IAM readings.

Everything here is pure; the modules' ``get_*`` functions return the documented REST JSON shape
(camelCase keys, enums as strings, RFC 3339 timestamps) so that transforms read recorded API
responses and live ones alike.
"""

import re
from datetime import UTC, datetime

from google.protobuf import json_format

PROVIDER = "gcp"
# Principals that mean "anyone": the first without signing in, the second with any Google account.
ALL_USERS, ALL_AUTHENTICATED = "allUsers", "allAuthenticatedUsers"
PUBLIC_MEMBERS = (ALL_USERS, ALL_AUTHENTICATED)
_FRACTION = re.compile(r"\.(\d+)")
# Runtime families whose identifier packs "major minor" digits together ("python312", "go122").
_DOTTED_FAMILIES = {"python", "go", "ruby", "php"}
_RUNTIME = re.compile(r"([a-z]+)(\d+)")


def full_name(service: str, name: str) -> str:
    """The full resource name Google uses across APIs, e.g.
    ``//run.googleapis.com/projects/p/locations/l/services/s`` — an asset's stable key."""
    return f"//{service}/{name}"


def name_part(name: str, collection: str) -> str:
    """The id following ``collection`` in a resource name ("locations" → "europe-west1")."""
    parts = name.split("/")
    try:
        return parts[parts.index(collection) + 1]
    except (ValueError, IndexError):
        return ""


def parse_time(value) -> datetime | None:
    """An RFC 3339 timestamp (with up to nanoseconds) as an aware datetime; None when absent."""
    if not value:
        return None
    text = _FRACTION.sub(lambda m: "." + m[1][:6].ljust(6, "0"), str(value).replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_runtime(runtime: str) -> str:
    """Google's runtime id in Daylight's canonical form: "python312" → "python3.12",
    "go122" → "go1.22", "ruby33" → "ruby3.3", "nodejs20" and "java17" as they are,
    "dotnet3" → "dotnetcore3.1" (Cloud Functions' .NET Core 3.1)."""
    runtime = (runtime or "").strip().lower()
    match = _RUNTIME.fullmatch(runtime)
    if not match:
        return runtime
    family, digits = match.groups()
    if family == "dotnet" and digits == "3":
        return "dotnetcore3.1"
    if family in _DOTTED_FAMILIES and len(digits) > 1:
        return f"{family}{digits[0]}.{digits[1:]}"
    return runtime


def as_rest(message) -> dict:
    """A client library message (proto-plus or raw protobuf) as its REST JSON."""
    pb = type(message).pb(message) if hasattr(type(message), "pb") else message
    return json_format.MessageToDict(pb)


def public_bindings(policy: dict) -> dict[str, list[str]]:
    """role → the public principals (allUsers, allAuthenticatedUsers) a policy grants it to."""
    found = {}
    for binding in policy.get("bindings") or []:
        members = [m for m in binding.get("members") or [] if m in PUBLIC_MEMBERS]
        if members:
            found.setdefault(binding.get("role", ""), []).extend(members)
    return found


def public_invokers(policies: list[dict], invoker_roles: frozenset[str]) -> list[str]:
    """The public principals that may invoke, by any of ``policies``: sorted, unique."""
    members = set()
    for policy in policies:
        for role, granted in public_bindings(policy).items():
            if role in invoker_roles:
                members.update(granted)
    return sorted(members)


def invoker_auth(invokers: list[str]) -> str:
    """How a caller must authenticate given who may invoke: "none" when anyone may, "google"
    when any signed-in Google account may, "iam" otherwise."""
    if ALL_USERS in invokers:
        return "none"
    if ALL_AUTHENTICATED in invokers:
        return "google"
    return "iam"


def env_names(*collections) -> list[str]:
    """The names (never the values) of environment variables, sorted and unique; each of
    ``collections`` is a name → value mapping (only its keys are read) or a list of names."""
    names = set()
    for collection in collections:
        names.update(str(name) for name in collection or () if name)
    return sorted(names)
