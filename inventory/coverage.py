"""Which accounts, projects and subscriptions Daylight collects, and which exist uncovered.

Organization-level listings (AWS Organizations, GCP folders, Azure subscriptions) report every
account they can see as an asset of kind "account". An account that no enabled source reads is a
shadow account: workloads could run there with nobody looking.
"""

from .models import Asset, AssetKind, Scope


def covered_accounts() -> set[str]:
    """Accounts some enabled source has a scope reading."""
    scopes = Scope.objects.filter(source__enabled=True).exclude(account="")
    return set(scopes.values_list("account", flat=True))


def uncovered_accounts():
    """Live account assets that no enabled source collects."""
    accounts = Asset.objects.filter(kind=AssetKind.ACCOUNT, gone_at__isnull=True)
    return accounts.exclude(account__in=covered_accounts()).order_by("provider", "account")
