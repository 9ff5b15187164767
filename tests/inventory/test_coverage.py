"""Shadow accounts: listed by an organization, read by no enabled source."""

import pytest

from collectors.records import DiscoveredAsset
from inventory.coverage import covered_accounts, uncovered_accounts
from inventory.ingest import ScopeIngest
from inventory.models import Scope, Source

pytestmark = pytest.mark.django_db


def account(number):
    return DiscoveredAsset(
        key=f"arn:aws:organizations::1:account/o-1/{number}",
        provider="aws",
        kind="account",
        name=f"acct-{number}",
        account=number,
    )


def test_accounts_no_enabled_source_reads_are_uncovered(scope_run):
    session = ScopeIngest(scope_run("1/organization"))
    for number in ("111", "222", "333"):
        session.add(account(number))
    session.finish(complete=True)
    reader = Source.objects.create(name="reads-111", provider="demo")
    Scope.objects.create(source=reader, key="aws/111/us-east-1", account="111")
    idle = Source.objects.create(name="reads-222", provider="demo", enabled=False)
    Scope.objects.create(source=idle, key="aws/222/us-east-1", account="222")

    assert covered_accounts() == {"111"}
    assert [a.account for a in uncovered_accounts()] == ["222", "333"]
