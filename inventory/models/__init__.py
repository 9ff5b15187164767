from .access import AccessEvent
from .assets import Asset, AssetChange
from .audit import AuditLog
from .choices import (
    AssetKind,
    FindingCategory,
    FindingStatus,
    OwnerBasis,
    Provider,
    RunStatus,
    RunTrigger,
    Severity,
    TrackingStatus,
)
from .export import ExportCursor, ExportDestination
from .findings import Finding
from .identities import ExternalIdentity
from .leases import Lease
from .notifications import Delivery, NotificationChannel, NotificationRule
from .ownership import OwnershipRule, TrackingDecision
from .reports import Report
from .runs import CollectionRun, CollectionTotal, ScopeRun
from .sources import Scope, Source
from .teams import Team
from .tokens import ApiToken, TokenScope

__all__ = [
    "AccessEvent",
    "ApiToken",
    "Asset",
    "AssetChange",
    "AssetKind",
    "AuditLog",
    "CollectionRun",
    "CollectionTotal",
    "Delivery",
    "ExportCursor",
    "ExportDestination",
    "ExternalIdentity",
    "Finding",
    "FindingCategory",
    "FindingStatus",
    "Lease",
    "NotificationChannel",
    "NotificationRule",
    "OwnerBasis",
    "OwnershipRule",
    "Provider",
    "Report",
    "RunStatus",
    "RunTrigger",
    "Scope",
    "ScopeRun",
    "Severity",
    "Source",
    "Team",
    "TokenScope",
    "TrackingDecision",
    "TrackingStatus",
]
