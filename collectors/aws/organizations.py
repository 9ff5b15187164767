"""An organization's member accounts, each reported as an asset of kind "account".

An account nobody collects is shadow IT at the largest grain: whatever runs there is invisible.
The collector says only whether *this* source collects each account (``collected``); whether
any Daylight source covers it is decided in inventory, which sees every source.
"""

from collections.abc import Iterator

from ..records import DiscoveredAsset
from .common import ScopeContext, labels_from_tags, ordered_map, parse_time
from .session import Region

# --- get --------------------------------------------------------------------------------------


def get_accounts(region: Region) -> Iterator[dict]:
    return region.pages("organizations", "list_accounts", "Accounts")


def get_account_tags(region: Region, account_id: str) -> list[dict]:
    return list(
        region.pages("organizations", "list_tags_for_resource", "Tags", ResourceId=account_id)
    )


# --- transform --------------------------------------------------------------------------------


def organization_id(account_arn: str) -> str:
    """ "o-abc123" from "arn:aws:organizations::111111111111:account/o-abc123/222222222222"."""
    parts = account_arn.rsplit("/", 2)
    return parts[1] if len(parts) == 3 else ""


def transform_account(
    account: dict, tags: list[dict], *, listed_by: str, collected: bool
) -> DiscoveredAsset:
    return DiscoveredAsset(
        key=account["Arn"],
        provider="aws",
        kind="account",
        name=account.get("Name", "") or account["Id"],
        account=account["Id"],
        labels=labels_from_tags(tags),
        attributes={
            "organization": organization_id(account["Arn"]),
            "listed_by": listed_by,
            "email": account.get("Email", ""),
            "joined_method": account.get("JoinedMethod", ""),
            "collected": collected,
        },
        state=(account.get("State") or account.get("Status") or "").lower(),
        created_at=parse_time(account.get("JoinedTimestamp")),
    )


# --- collect ----------------------------------------------------------------------------------


def collect(region: Region, context: ScopeContext, collected: set[str]) -> Iterator:
    """Every account of the organization; ``collected`` are the ids this source reads."""

    def read_tags(account):
        return get_account_tags(region, account["Id"])

    for account, tags in ordered_map(read_tags, get_accounts(region), context.workers):
        yield transform_account(
            account,
            tags,
            listed_by=region.account,
            collected=account["Id"] in collected,
        )
