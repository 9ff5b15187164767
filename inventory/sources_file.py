"""Sources as code: the YAML file that ``manage.py sources import|export`` reads and writes.

    sources:
      - name: aws-prod                  # slug, unique
        provider: aws                   # one of collectors.base.PROVIDERS
        config: {regions: [us-east-1]}  # the provider's scope, never credentials
        endpoint_url: ""                # optional
        schedule: "0 * * * *"           # optional cron, default hourly
        enabled: true                   # optional
        description: ""                 # optional

The file declares each source it names completely: a key left out takes its default, so the
same file always yields the same sources. Sources the file does not name are left alone.

Reading is two steps. ``parse_sources`` checks the whole file and reports every problem with
its location, without touching the database; ``apply_sources`` then writes all of it in one
transaction, or nothing.
"""

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from collectors.base import UnknownProvider, collector_class

from .credentials import CREDENTIALS_ADVICE, credential_paths, url_has_password
from .models import Source
from .schedules import parse_cron
from .services import audit

SOURCE_FIELDS = Source.DECLARED_FIELDS
REQUIRED_FIELDS = ("name", "provider")
DEFAULTS = {
    "config": {},
    "endpoint_url": "",
    "schedule": Source._meta.get_field("schedule").default,
    "enabled": True,
    "description": "",
}
EXPECTED_TYPES = {
    "name": (str, "a string"),
    "provider": (str, "a string"),
    "config": (dict, "a mapping"),
    "endpoint_url": (str, "a string"),
    "schedule": (str, "a string"),
    "enabled": (bool, "true or false"),
    "description": (str, "a string"),
}
FILE_HEADER = "# Daylight sources. Load with: python manage.py sources import FILE\n"


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML where a key written twice in one mapping is an error: plain YAML loaders keep
    the last one silently, which would drop half of a source's settings."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys itself
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    problem=f"key {key!r} appears twice", problem_mark=key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


class _ListIndentingDumper(yaml.SafeDumper):
    """Indents list items under their key, as people write YAML by hand."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


class SourcesFileError(Exception):
    """The file cannot be imported; ``problems`` lists every reason, each with its location."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class SourcePlan:
    """What importing one entry does to the database."""

    name: str
    action: str  # "create", "update" or "unchanged"
    changed_fields: list[str] = field(default_factory=list)


# --- reading --------------------------------------------------------------------------------


def parse_sources(text: str) -> list[dict]:
    """The file's sources, each a complete dict of SOURCE_FIELDS; SourcesFileError otherwise."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise SourcesFileError([_yaml_problem(exc)]) from None
    entries, problems = _entries(document)
    if entries is None:
        raise SourcesFileError(problems)
    sources, first_index = [], {}
    for index, entry in enumerate(entries):
        where = _location(index, entry)
        entry_problems = entry_problems_of(entry)
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name:
            if name in first_index:
                entry_problems.append(
                    f"name {name!r} is used again (first at sources[{first_index[name]}])"
                )
            else:
                first_index[name] = index
        problems += [f"{where}: {problem}" for problem in entry_problems]
        if not entry_problems:
            sources.append(_complete(entry))
    if problems:
        raise SourcesFileError(problems)
    return sources


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    reason = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"YAML syntax error: {reason}"
    problem = f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {reason}"
    # An unclosed bracket or quote is reported where the file ends; say where it was opened.
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line != mark.line:
        problem += f" ({context} started at line {context_mark.line + 1})"
    return problem


def _entries(document) -> tuple[list | None, list[str]]:
    """The list under ``sources``, or None and why there is none."""
    if not isinstance(document, dict):
        return None, ["the file must be a mapping with a 'sources' list at the top level"]
    problems = [
        f"unknown top-level key {key!r} (allowed: sources)" for key in document if key != "sources"
    ]
    if "sources" not in document:
        return None, [*problems, "the file has no 'sources' list"]
    if not isinstance(document["sources"], list):
        return None, [*problems, "'sources' must be a list of sources"]
    return document["sources"], problems


def _location(index: int, entry) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"sources[{index}] ({name})" if isinstance(name, str) and name else f"sources[{index}]"


def entry_problems_of(entry) -> list[str]:
    """Everything wrong with one entry of the file, checked on its own."""
    if not isinstance(entry, dict):
        return [f"must be a mapping of source settings, not {_kind(entry)}"]
    problems = [
        f"unknown key {key!r} (allowed: {', '.join(SOURCE_FIELDS)})"
        for key in entry
        if key not in SOURCE_FIELDS
    ]
    problems += [f"{key} is required" for key in REQUIRED_FIELDS if entry.get(key) in (None, "")]
    problems += _type_problems(entry)
    if problems:
        return problems
    problems += _name_problems(entry["name"])
    problems += [f"{path}: {CREDENTIALS_ADVICE}" for path in credential_paths(entry.get("config"))]
    problems += _json_problems(entry.get("config"))
    problems += _endpoint_problems(entry.get("endpoint_url"))
    if problems:
        return problems
    problems += _provider_problems(entry["provider"], entry.get("config") or {})
    if entry.get("schedule") is not None:
        try:
            parse_cron(entry["schedule"])
        except ValueError as exc:
            problems.append(str(exc))
    return problems or _model_problems(_complete(entry))


def _kind(value) -> str:
    return {list: "a list", str: "a string", type(None): "empty"}.get(
        type(value), type(value).__name__
    )


def _type_problems(entry: dict) -> list[str]:
    return [
        f"{key} must be {expected}, not {_kind(entry[key])}"
        for key, (python_type, expected) in EXPECTED_TYPES.items()
        if entry.get(key) is not None and not isinstance(entry[key], python_type)
    ]


def _name_problems(name: str) -> list[str]:
    try:
        validate_slug(name)
    except ValidationError:
        return [f"name {name!r} must be a slug: letters, digits, hyphens and underscores only"]
    return []


def _endpoint_problems(endpoint_url: str | None) -> list[str]:
    if url_has_password(endpoint_url or ""):
        return [f"endpoint_url carries a password: {CREDENTIALS_ADVICE}"]
    return []


def _provider_problems(provider: str, config: dict) -> list[str]:
    try:
        return list(collector_class(provider).validate_config(config))
    except UnknownProvider as exc:
        return [str(exc)]


def _model_problems(values: dict) -> list[str]:
    """What the Source model itself rejects (lengths, URL syntax), field by field."""
    try:
        Source(**values).full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return [
            message if message.startswith(name) else f"{name}: {message}"
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return []


def _json_problems(value, path: str = "config") -> list[str]:
    """Where ``value`` holds something the database cannot store as JSON."""
    if isinstance(value, dict):
        problems = []
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(f"{path}: key {key!r} must be text")
            problems += _json_problems(item, f"{path}.{key}")
        return problems
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _json_problems(item, f"{path}[{i}]")]
    if value is None or isinstance(value, str | int | float | bool | date):
        return []
    return [f"{path} must be text, a number, true/false, a list or a mapping, not {_kind(value)}"]


def _plain(value):
    """``value`` with the dates YAML makes of unquoted 2026-01-31 turned back into that text."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value.isoformat() if isinstance(value, date) else value


def _complete(entry: dict) -> dict:
    """The entry with every field present, defaults filled in for those left out or empty."""
    values = {key: entry[key] for key in REQUIRED_FIELDS}
    for key, default in DEFAULTS.items():
        values[key] = default if entry.get(key) is None else entry[key]
    values["config"] = _plain(values["config"])
    return values


# --- writing --------------------------------------------------------------------------------


def plan_sources(sources: list[dict], existing: dict[str, Source] | None = None):
    """What importing ``sources`` would create, update or leave as it is.

    ``existing`` maps names to the stored sources; they are looked up when not given.
    """
    if existing is None:
        existing = {s.name: s for s in Source.objects.filter(name__in=_names(sources))}
    plans = []
    for values in sources:
        current = existing.get(values["name"])
        if current is None:
            plans.append(SourcePlan(values["name"], "create"))
            continue
        before = current.snapshot()
        changed = [name for name in SOURCE_FIELDS if before[name] != values[name]]
        plans.append(SourcePlan(values["name"], "update" if changed else "unchanged", changed))
    return plans


def apply_sources(sources: list[dict]) -> list[SourcePlan]:
    """Create or update every source in one transaction, auditing each one that changes."""
    with transaction.atomic():
        locked = Source.objects.select_for_update().filter(name__in=_names(sources))
        existing = {s.name: s for s in locked}
        plans = plan_sources(sources, existing)
        for values, plan in zip(sources, plans, strict=True):
            if plan.action == "unchanged":
                continue
            source = existing.get(values["name"]) or Source()
            before = source.snapshot() if source.pk else None
            for name, value in values.items():
                setattr(source, name, value)
            source.save()
            audit(None, "source.import", source, before=before, after=source.snapshot())
    return plans


def _names(sources: list[dict]) -> list[str]:
    return [values["name"] for values in sources]


def import_sources(text: str, *, dry_run: bool = False) -> list[SourcePlan]:
    """Check the whole file, then (unless ``dry_run``) write it; SourcesFileError if invalid."""
    sources = parse_sources(text)
    return plan_sources(sources) if dry_run else apply_sources(sources)


def export_sources(sources=None) -> str:
    """The YAML file describing ``sources`` (every source when None), ready to import again."""
    sources = Source.objects.order_by("name") if sources is None else sources
    document = {"sources": [source.snapshot() for source in sources]}
    return FILE_HEADER + yaml.dump(
        document,
        Dumper=_ListIndentingDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
