"""What the dashboard tests share: reading pages, counting queries, a hostile asset."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from collectors.records import AccessRecord
from inventory.ingest import ScopeIngest
from inventory.models import Asset
from tests.conftest import NOW, asset

PASSWORD = "correct-horse-battery"
# Budgets for a whole page request, session and user included. They must not grow with the
# estate; the tests also check that a larger estate costs no more than a small one. The
# costliest are an actor's access page while the ownership tallies are not cached yet, and
# the overview (its figures, and the latest posture report it links to).
PAGE_BUDGET = 16


def text_of(page: str, name: str) -> str:
    """The text of the element marked ``data-testid=name``."""
    match = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', page)
    assert match, f"no data-testid={name} in the page"
    return match.group(1).strip()


def page_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


HOSTILE_SCRIPT = "<script>alert('name')</script>"
HOSTILE_IMG = '"><img src=x onerror=alert(1)>'
ODD_UNICODE = "pay\u202egnp.exe \u200dzero\u200bwidth e\u0301 \U0001f680 \uff1cscript\uff1e"


def ingest_hostile_asset(scope_run):
    """An asset whose every attacker-controlled field is hostile, through the real ingest."""
    key = "arn:aws:lambda:us-east-1:111111111111:function:hostile"
    ingest = ScopeIngest(scope_run())
    ingest.add(
        asset(
            key,
            name=HOSTILE_SCRIPT,
            namespace=HOSTILE_IMG,
            runtime=ODD_UNICODE[:60],
            labels={
                "owner": HOSTILE_SCRIPT,
                HOSTILE_IMG: "value",
                "note": ODD_UNICODE,
                "items": "a tag named like a dict method",
                "nul": "before\x00after",
            },
            security={"env_names": [HOSTILE_IMG]},
            creator=HOSTILE_IMG,
        )
    )
    ingest.add(
        AccessRecord(
            event_id="evt-1",
            provider="aws",
            occurred_at=NOW,
            action=HOSTILE_IMG,
            asset_key=key,
            actor=HOSTILE_SCRIPT,
            source_ip="<b>1.2.3.4</b>",
            user_agent=ODD_UNICODE,
            outcome="<i>ok</i>",
        )
    )
    ingest.finish(complete=True)
    return Asset.objects.get(key=key)
