"""The Azure collector: one scope per subscription, plus the subscription listing of a
tenant-wide source."""

import threading
from collections.abc import Iterator
from datetime import timedelta

from ..base import Collector
from ..records import Cursor, Record, ScopeSpec
from . import activity_log, aks, container_instances, subscriptions, web_apps
from .clients import AzureClients, make_credential
from .common import CLOUDS, iso, parse_time, resource_group

DEFAULT_HISTORY_DAYS = 30
MAX_HISTORY_DAYS = 89  # the Activity Log keeps 90 days
# Activity Log events can appear minutes after they happen; each run reads again from a little
# before the last event it saw, and duplicates are dropped by event id.
HISTORY_OVERLAP = timedelta(hours=1)
LISTING_SCOPE = "azure/subscriptions"
CREDENTIALS = ("default", "environment")


class AzureCollector(Collector):
    """Function Apps and Web Apps, AKS clusters, Container Instances and the Activity Log.

    Source config: ``subscriptions`` (ids; default: every enabled subscription the credential
    lists); ``cloud`` ("public", "usgov", "china"); ``credential`` ("default":
    DefaultAzureCredential, "environment": a service principal from AZURE_* variables);
    ``list_subscriptions`` (report every listable subscription as an ``account`` asset; default
    true when ``subscriptions`` is not given); ``app_settings`` (read app setting names, default
    true); ``access_history`` (default true); ``history_days`` (first run, at most 89).
    """

    provider = "azure"
    optional_config = (
        "subscriptions",
        "cloud",
        "credential",
        "list_subscriptions",
        "app_settings",
        "access_history",
        "history_days",
    )

    @classmethod
    def validate_config(cls, config: dict) -> list[str]:
        problems = super().validate_config(config)
        if problems or not isinstance(config, dict):
            return problems
        subs = config.get("subscriptions", [])
        if not isinstance(subs, list) or not all(isinstance(s, str) and s for s in subs):
            problems.append("config.subscriptions must be a list of subscription ids")
        if config.get("cloud", "public") not in CLOUDS:
            problems.append(f"config.cloud must be one of {', '.join(CLOUDS)}")
        if config.get("credential", "default") not in CREDENTIALS:
            problems.append(f"config.credential must be one of {', '.join(CREDENTIALS)}")
        for key in ("list_subscriptions", "app_settings", "access_history"):
            if not isinstance(config.get(key, True), bool):
                problems.append(f"config.{key} must be true or false")
        days = config.get("history_days", DEFAULT_HISTORY_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_HISTORY_DAYS:
            problems.append(
                f"config.history_days must be a whole number from 1 to {MAX_HISTORY_DAYS}"
            )
        return problems

    def __init__(self, source, now):
        super().__init__(source, now)
        self.cloud = CLOUDS[source.config.get("cloud", "public")]
        self._credential = None
        self._lock = threading.Lock()  # scopes are read in parallel threads

    def credential(self):
        """The token credential for this source's cloud (never stored)."""
        return make_credential(self.cloud, self.source.config.get("credential", "default"))

    def clients(self, subscription: str = "") -> AzureClients:
        with self._lock:
            if self._credential is None:
                self._credential = self.credential()
        return AzureClients(self._credential, self.cloud, subscription, self.source.endpoint_url)

    def scopes(self) -> list[ScopeSpec]:
        config = self.source.config
        ids = list(config.get("subscriptions", []))
        if not ids:
            ids = [
                raw["subscriptionId"]
                for raw in subscriptions.get_subscriptions(self.clients())
                if raw.get("state") == subscriptions.LIVE
            ]
        specs = []
        if config.get("list_subscriptions", not config.get("subscriptions")):
            specs.append(ScopeSpec(LISTING_SCOPE))
        return specs + [
            ScopeSpec(f"azure/{s.lower()}", {"subscription": s.lower()}, account=s.lower())
            for s in sorted(set(ids))
        ]

    def collect(self, scope: ScopeSpec, cursor: dict) -> Iterator[Record]:
        if scope.key == LISTING_SCOPE:
            for raw in subscriptions.get_subscriptions(self.clients()):
                yield subscriptions.transform_subscription(raw)
            return
        subscription = scope.params["subscription"]
        clients = self.clients(subscription)
        yield from self._sites(clients, subscription)
        for raw in aks.get_managed_clusters(clients):
            settings = aks.get_diagnostic_settings(clients, raw["id"])
            yield aks.transform_managed_cluster(raw, subscription, settings)
        for raw in container_instances.get_container_groups(clients):
            yield from container_instances.transform_container_group(raw, subscription)
        if self.source.config.get("access_history", True):
            yield from self._activity(clients, cursor)

    def _sites(self, clients: AzureClients, subscription: str) -> Iterator[Record]:
        for raw in web_apps.get_sites(clients):
            group = (raw.get("properties") or {}).get("resourceGroup") or ""
            group = group or resource_group(raw["id"])
            app = self._site(clients, subscription, raw, group, raw["name"])
            yield app
            for slot in web_apps.get_slots(clients, group, raw["name"]):
                # A slot's name is "app/slot".
                slot_name = slot["name"].rsplit("/", 1)[-1]
                yield self._site(
                    clients, subscription, slot, group, raw["name"], slot_name, app.key
                )

    def _site(self, clients, subscription, raw, group, name, slot="", parent_key=""):
        """An app, or one of its deployment slots, with its configuration read."""
        config = web_apps.get_site_config(clients, group, name, slot)
        auth = web_apps.get_auth_settings(clients, group, name, slot)
        settings = None
        if self.source.config.get("app_settings", True):
            settings = web_apps.get_app_settings(clients, group, name, slot)
        functions = None
        if "functionapp" in (raw.get("kind") or "").lower():
            functions = web_apps.get_site_functions(clients, group, name, slot)
        return web_apps.transform_site(
            raw, subscription, config, settings, functions, auth, parent_key
        )

    def _activity(self, clients: AzureClients, cursor: dict) -> Iterator[Record]:
        last = parse_time(cursor.get("activity_since"))
        days = self.source.config.get("history_days", DEFAULT_HISTORY_DAYS)
        since = last - HISTORY_OVERLAP if last else self.now - timedelta(days=days)
        latest = None
        for raw in activity_log.get_activity(clients, since, self.now):
            record = activity_log.transform_event(raw)
            if record is not None:
                latest = max(latest or record.occurred_at, record.occurred_at)
                yield record
        # With nothing new, nothing happened before now (less the delay the log may take).
        resume = latest or max(since, self.now - HISTORY_OVERLAP)
        yield Cursor({"activity_since": iso(resume)})
