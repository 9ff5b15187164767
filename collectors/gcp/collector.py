"""The Google Cloud collector: one scope per project, plus the project listing of an
organization or folders."""

import threading
from collections.abc import Iterator
from datetime import timedelta

from ..base import Collector
from ..records import AccessRecord, Cursor, DiscoveredAsset, Record, ScopeSpec
from . import audit, functions, gke, projects, run
from .clients import GcpClients, load_credentials
from .common import rfc3339

DEFAULT_HISTORY_DAYS = 30
MAX_HISTORY_DAYS = 400  # how long Cloud Logging keeps Admin Activity entries
# Audit entries can reach Logging a while after they happened; each run reads again from a little
# before the last entry it saw, and duplicates are dropped by event id.
HISTORY_OVERLAP = timedelta(hours=1)
LISTING_SCOPE = "gcp/resource-manager"


class GcpCollector(Collector):
    """Cloud Functions, Cloud Run services, GKE clusters and their Admin Activity audit trail.

    Source config: ``projects`` (project ids) and/or ``organization`` / ``folders`` (numeric
    ids; every active project under them is collected unless ``projects`` narrows it, and all
    of them are reported as ``account`` assets); ``credentials_file`` (a service-account key
    file's path; default: Application Default Credentials); ``run_regions`` (default: every
    Cloud Run location); ``access_history`` (default true); ``history_days`` (first run).
    """

    provider = "gcp"
    optional_config = (
        "projects",
        "organization",
        "folders",
        "credentials_file",
        "run_regions",
        "access_history",
        "history_days",
    )

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        problems = super().validate_config(config)
        if problems or not isinstance(config, dict):
            return problems
        if not any(config.get(key) for key in ("projects", "organization", "folders")):
            problems.append("config needs projects, organization or folders")
        for key in ("projects", "folders", "run_regions"):
            value = config.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f"config.{key} must be a list of names")
        if not isinstance(config.get("organization", ""), str | int):
            problems.append("config.organization must be an organization id")
        days = config.get("history_days", DEFAULT_HISTORY_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_HISTORY_DAYS:
            problems.append(
                f"config.history_days must be a whole number from 1 to {MAX_HISTORY_DAYS}"
            )
        if not isinstance(config.get("access_history", True), bool):
            problems.append("config.access_history must be true or false")
        return problems

    def __init__(self, source, now):
        super().__init__(source, now)
        self._clients: GcpClients | None = None
        self._lock = threading.Lock()  # scopes are read in parallel threads

    @property
    def clients(self) -> GcpClients:
        with self._lock:
            if self._clients is None:
                credentials = load_credentials(self.source.config.get("credentials_file", ""))
                self._clients = GcpClients(credentials, self.source.endpoint_url)
            return self._clients

    def _parents(self) -> list[str]:
        config = self.source.config
        parents = []
        if config.get("organization"):
            parents.append(f"organizations/{str(config['organization']).split('/')[-1]}")
        parents += [f"folders/{folder.split('/')[-1]}" for folder in config.get("folders", [])]
        return parents

    def scopes(self) -> list[ScopeSpec]:
        parents = self._parents()
        project_ids = list(self.source.config.get("projects", []))
        if not project_ids and parents:
            project_ids = [
                raw["projectId"]
                for raw in projects.get_projects(self.clients, parents)
                if raw.get("state") == projects.LIVE
            ]
        specs = [ScopeSpec(LISTING_SCOPE, {"parents": parents})] if parents else []
        return specs + [
            ScopeSpec(f"gcp/{p}", {"project": p}, account=p) for p in sorted(set(project_ids))
        ]

    def collect(self, scope: ScopeSpec, cursor: dict) -> Iterator[Record]:
        if scope.key == LISTING_SCOPE:
            for raw in projects.get_projects(self.clients, scope.params["parents"]):
                yield projects.transform_project(raw)
            return
        project = scope.params["project"]
        creators = dict(cursor.get("creators", {}))
        state = dict(cursor)
        # Access history first, so that creators are known for the assets (the APIs name the
        # creator of a Cloud Run service only).
        if self.source.config.get("access_history", True):
            for record in self._access_history(project, cursor, state):
                if audit.is_creation(record):
                    creators[record.asset_key] = record.actor  # oldest first: latest wins
                yield record
        seen = set()
        for asset in self._assets(project, creators):
            seen.add(asset.key)
            yield asset
        state["creators"] = {key: who for key, who in creators.items() if key in seen}
        yield Cursor(state)

    def _assets(self, project: str, creators: dict[str, str]) -> Iterator[DiscoveredAsset]:
        served_by_functions: dict[str, tuple[str, dict]] = {}
        yield from self._functions(project, served_by_functions, creators)
        yield from self._services(project, served_by_functions, creators)
        for raw in gke.get_clusters(self.clients, project):
            key = gke.cluster_key(project, raw["location"], raw["name"])
            yield gke.transform_cluster(raw, project, creators.get(key, ""))

    def _functions(self, project: str, served: dict, creators: dict) -> Iterator[Record]:
        """Functions, noting the Cloud Run service (and its policy) behind each 2nd gen one."""
        for raw in functions.get_functions(self.clients, project):
            policies = [functions.get_function_iam_policy(self.clients, raw["name"])]
            service = (raw.get("serviceConfig") or {}).get("service", "")
            if raw.get("environment") == "GEN_2" and service:
                policies.append(run.get_service_iam_policy(self.clients, service))
            key = functions.function_key(raw["name"])
            record = functions.transform_function(raw, project, policies, creators.get(key, ""))
            if service:
                served[service] = (record.key, policies[-1])
            yield record

    def _services(self, project: str, served: dict, creators: dict) -> Iterator[Record]:
        regions = self.source.config.get("run_regions") or run.get_run_locations(
            self.clients, project
        )
        for region in regions:
            for raw in run.get_services(self.clients, project, region):
                function_key, policy = served.get(raw["name"], ("", None))
                if policy is None:
                    policy = run.get_service_iam_policy(self.clients, raw["name"])
                revisions = [
                    run.get_revision(self.clients, project, region, revision)
                    for revision, _ in run.serving_revisions(raw)
                ]
                creator = creators.get(run.service_key(raw["name"]), "")
                yield from run.transform_service(
                    raw, project, policy, function_key, revisions, creator
                )

    def _access_history(self, project: str, cursor: dict, state: dict) -> Iterator[AccessRecord]:
        """The project's audit entries since the last run; ``state`` learns where to resume."""
        days = self.source.config.get("history_days", DEFAULT_HISTORY_DAYS)
        since = audit.history_start(cursor, self.now, days, HISTORY_OVERLAP)
        latest = None
        for entry in audit.get_admin_activity(self.clients, project, since):
            record = audit.transform_audit_entry(entry)
            if record is not None:
                latest = max(latest or record.occurred_at, record.occurred_at)
                yield record
        # With nothing new, nothing happened before now (less the delay Logging may take).
        resume = latest or max(since, self.now - HISTORY_OVERLAP)
        state["audit_since"] = rfc3339(resume)
