"""End-of-life lookups for runtimes and Kubernetes versions (dated table: data/eol.json)."""

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

DEPRECATION_WARNING = timedelta(days=180)
_MINOR_VERSION = re.compile(r"v?(\d+)\.(\d+)")


@dataclass(frozen=True)
class Support:
    """Where a version stands on a day: "eol", "deprecating" (within 180 days) or "supported"."""

    state: str
    ends: date


@cache
def _table():
    data = json.loads((Path(__file__).parent / "data" / "eol.json").read_text())
    return {
        section: {version: date.fromisoformat(day) for version, day in data[section].items()}
        for section in ("runtimes", "kubernetes")
    }


def _support(ends: date | None, today: date) -> Support | None:
    if ends is None:
        return None
    if ends <= today:
        return Support("eol", ends)
    if ends - today <= DEPRECATION_WARNING:
        return Support("deprecating", ends)
    return Support("supported", ends)


def runtime_support(runtime: str, today: date) -> Support | None:
    """``runtime`` is canonical ("python3.9", "nodejs18", "java11"); None when not in the table."""
    canonical = runtime.lower().removesuffix(".x") if runtime != "go1.x" else runtime
    return _support(_table()["runtimes"].get(canonical), today)


def kubernetes_support(version: str, today: date) -> Support | None:
    """Accepts "1.27", "v1.27.3" or "1.27.3-eks-2f008fe"; None when unknown."""
    match = _MINOR_VERSION.match(version.strip())
    if not match:
        return None
    return _support(_table()["kubernetes"].get(f"{match[1]}.{match[2]}"), today)
