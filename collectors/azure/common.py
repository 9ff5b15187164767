"""What the Azure modules share: resource keys, clouds, timestamps and runtime stacks.

ARM resource IDs are case-insensitive and come back in different casings from different APIs
(the Activity Log often lower-cases "resourcegroups"), so an asset's key is its resource ID in
lower case; its name keeps the casing Azure shows.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

PROVIDER = "azure"
_FRACTION = re.compile(r"\.(\d+)")
_RESOURCE_GROUP = re.compile(r"/resourcegroups/([^/]+)", re.I)
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_JAVA = re.compile(r"(?:java|jre)(\d+)", re.I)


@dataclass(frozen=True)
class Cloud:
    """An Azure cloud: where ARM answers and which authority issues its tokens."""

    name: str
    arm_endpoint: str
    authority: str

    @property
    def scope(self) -> str:
        return f"{self.arm_endpoint}/.default"


CLOUDS = {
    "public": Cloud("public", "https://management.azure.com", "login.microsoftonline.com"),
    "usgov": Cloud("usgov", "https://management.usgovcloudapi.net", "login.microsoftonline.us"),
    "china": Cloud("china", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn"),
}


def resource_key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


def resource_group(resource_id: str) -> str:
    match = _RESOURCE_GROUP.search(resource_id)
    return match[1] if match else ""


def parse_time(value) -> datetime | None:
    """An ARM timestamp (ISO 8601, up to 7 fractional digits, maybe without zone: UTC) as an
    aware datetime; None when absent."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = _FRACTION.sub(lambda m: "." + m[1][:6].ljust(6, "0"), str(value).replace("Z", "+00:00"))
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _major_minor(version: str) -> str:
    match = _DIGITS.search(version)
    return match[0] if match else ""


def _major(version: str) -> str:
    return _major_minor(version).split(".")[0]


def _dotnet(version: str) -> str:
    number = _major_minor(version)
    if not number:
        return ""
    if number.startswith("4"):
        return "dotnetframework4"
    if number in ("3.1", "2.1", "2.2", "3.0"):
        return f"dotnetcore{number}"
    return f"dotnet{_major(number)}"


def _java(version: str) -> str:
    """ "17-java17", "TOMCAT 10.0-java17", "8-jre8", "1.8", "17" → "java17"/"java8"."""
    if match := _JAVA.search(version):
        return f"java{match[1]}"
    number = _major_minor(version)
    if number in ("1.8", "8"):
        return "java8"
    return f"java{_major(number)}" if number else ""


STACKS = {
    "PYTHON": lambda v: f"python{_major_minor(v)}",
    "NODE": lambda v: f"nodejs{_major(v)}",
    "PHP": lambda v: f"php{_major_minor(v)}",
    "RUBY": lambda v: f"ruby{_major_minor(v)}",
    "GO": lambda v: f"go{_major_minor(v)}",
    "POWERSHELL": lambda v: f"powershell{_major_minor(v)}",
    "DOTNETCORE": _dotnet,
    "DOTNET": _dotnet,
    "DOTNET-ISOLATED": _dotnet,
    "JAVA": _java,
    "TOMCAT": _java,
    "JBOSSEAP": _java,
}
CONTAINER_STACKS = {"DOCKER", "COMPOSE", "KUBE"}


def runtime_from_fx(fx_version: str) -> tuple[str, str]:
    """(canonical runtime, container image) from a ``linuxFxVersion``/``windowsFxVersion``:
    "PYTHON|3.11" → ("python3.11", ""), "DOCKER|repo/app:1.2" → ("", "repo/app:1.2")."""
    stack, _, version = (fx_version or "").partition("|")
    stack = stack.strip().upper()
    if stack == "DOCKER":
        return "", version.strip()
    if stack in CONTAINER_STACKS or stack not in STACKS:
        return "", ""
    runtime = STACKS[stack](version)
    return (runtime if _DIGITS.search(runtime) else ""), ""


def windows_runtime(
    worker_runtime: str, config: dict, settings: dict, function_app: bool = False
) -> tuple[str, str]:
    """(canonical runtime, the setting it came from) for a Windows app, which names its stack
    in separate settings rather than one fx version. A Function App whose worker runtime is
    unknown (settings unreadable) has no runtime: its site config holds defaults only."""
    worker = (worker_runtime or "").lower()
    if function_app and not worker:
        return "", ""
    node = settings.get("WEBSITE_NODE_DEFAULT_VERSION") or config.get("nodeVersion") or ""
    candidates = [
        ("javaVersion", config.get("javaVersion"), _java),
        ("powerShellVersion", config.get("powerShellVersion"), STACKS["POWERSHELL"]),
        ("phpVersion", config.get("phpVersion"), STACKS["PHP"]),
        ("pythonVersion", config.get("pythonVersion"), STACKS["PYTHON"]),
        ("WEBSITE_NODE_DEFAULT_VERSION", node, STACKS["NODE"]),
        ("netFrameworkVersion", config.get("netFrameworkVersion"), _dotnet),
    ]
    if worker:  # a Function App says which one applies
        wanted = {
            "java": "javaVersion",
            "powershell": "powerShellVersion",
            "node": "WEBSITE_NODE_DEFAULT_VERSION",
            "dotnet": "netFrameworkVersion",
            "dotnet-isolated": "netFrameworkVersion",
        }.get(worker)
        candidates = [c for c in candidates if c[0] == wanted]
    for source, version, canonical in candidates:
        if version and _DIGITS.search(str(version)):
            return canonical(str(version)), source
    return "", ""
