"""Subscriptions the credential can see: the scopes of a tenant-wide source, and ``account``
assets so that the inventory can show subscriptions no source covers."""

from collections.abc import Iterator

from ..records import DiscoveredAsset
from .clients import SUBSCRIPTIONS_API, AzureClients, failure
from .common import PROVIDER, resource_key

LIVE = "Enabled"


def get_subscriptions(clients: AzureClients) -> Iterator[dict]:
    url = f"/subscriptions?api-version={SUBSCRIPTIONS_API}"
    while url:
        try:
            page = clients.get_json(url)
        except Exception as exc:
            raise failure("subscriptions:List", exc) from exc
        yield from page.get("value") or []
        url = page.get("nextLink") or ""


def transform_subscription(raw: dict) -> DiscoveredAsset:
    """``raw`` is a Subscription as ARM's subscription list returns it."""
    return DiscoveredAsset(
        key=resource_key(raw.get("id") or f"/subscriptions/{raw['subscriptionId']}"),
        provider=PROVIDER,
        kind="account",
        name=raw.get("displayName") or raw["subscriptionId"],
        account=raw["subscriptionId"],
        labels=dict(raw.get("tags") or {}),
        attributes={
            "tenant_id": raw.get("tenantId", ""),
            "quota_id": (raw.get("subscriptionPolicies") or {}).get("quotaId", ""),
        },
        state=raw.get("state", ""),
    )
