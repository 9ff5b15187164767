"""The notifications page: rules, channels and every message with its outcome, for admins;
a failed message can be sent again, audited."""

import pytest

from inventory.models import AuditLog, Delivery, NotificationChannel, NotificationRule, Team
from tests.conftest import make_user

from .helpers import HOSTILE_SCRIPT, PAGE_BUDGET, page_of, queries_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process")]
PAGE = "/notifications/"


@pytest.fixture
def configured(http_receiver):
    team = Team.objects.create(name="Payments", slug="payments", contact="pay@example.com")
    hook = NotificationChannel.objects.create(
        name="soc-hook", kind="webhook", url=http_receiver.url, secret_env="SOC_HOOK_KEY"
    )
    slack = NotificationChannel.objects.create(name="slack", kind="slack", url_env="SLACK_URL")
    shadow = NotificationRule.objects.create(name="shadow", event="new_untracked", channel=slack)
    exposed = NotificationRule.objects.create(
        name="pay exposed", event="exposed", team=team, channel=hook
    )
    failed = Delivery.objects.create(
        rule=exposed,
        channel=hook,
        event="exposed",
        key="run:1",
        title=f"1 asset became internet-exposed in {HOSTILE_SCRIPT}",
        payload={"title": "t", "items": [], "count": 1, "link": "http://localhost:8000/assets/"},
        status="failed",
        attempts=7,
        last_error="The receiver answered HTTP 503.",
    )
    sent = Delivery.objects.create(
        rule=shadow, channel=slack, event="new_untracked", key="run:1", title="3 new", status="sent"
    )
    return {"rules": (shadow, exposed), "failed": failed, "sent": sent, "hook": hook}


def test_admins_see_rules_channels_and_failed_messages(client, admin_user, configured):
    client.force_login(admin_user)
    page = page_of(client.get(PAGE))

    assert f'data-rule="{configured["rules"][1].pk}"' in page
    assert "Every team" in page and ">Payments</a>" in page
    assert "URL from <code>SLACK_URL</code>" in page
    assert "HMAC key from <code>SOC_HOOK_KEY</code>" in page
    assert "The receiver answered HTTP 503." in page
    assert HOSTILE_SCRIPT not in page and "&lt;script&gt;" in page
    assert f'action="/notifications/deliveries/{configured["failed"].pk}/retry/"' in page
    assert f'action="/notifications/deliveries/{configured["sent"].pk}/retry/"' not in page

    failed_only = page_of(client.get(PAGE + "?status=failed"))
    assert f'data-delivery="{configured["failed"].pk}"' in failed_only
    assert f'data-delivery="{configured["sent"].pk}"' not in failed_only
    assert queries_for(client, PAGE) <= PAGE_BUDGET


@pytest.mark.parametrize("role", ["viewer", "reconciler"])
def test_only_admins_open_the_page_or_see_its_link(client, role, configured):
    user = make_user(f"someone-{role}", role)
    client.force_login(user)
    assert client.get(PAGE).status_code == 403
    failed = configured["failed"]
    assert client.post(f"/notifications/deliveries/{failed.pk}/retry/").status_code == 403
    assert PAGE not in page_of(client.get("/sources/"))
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_the_link_is_in_the_navigation_and_on_the_sources_page_for_admins(client, admin_user):
    client.force_login(admin_user)
    assert page_of(client.get("/sources/")).count(f'href="{PAGE}"') == 2


def test_sending_a_failed_message_again_delivers_it_and_is_audited(
    client, admin_user, configured, http_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setenv("SOC_HOOK_KEY", "k")
    failed = configured["failed"]
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/notifications/deliveries/{failed.pk}/retry/")

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == ("sent", 8, "")
    assert len(http_receiver.requests) == 1
    entry = AuditLog.objects.get(action="delivery.retry")
    assert entry.actor == admin_user and entry.before["status"] == "failed"


def test_only_failed_messages_are_sent_again(client, admin_user, configured, http_receiver):
    client.force_login(admin_user)
    response = client.post(f"/notifications/deliveries/{configured['sent'].pk}/retry/", follow=True)
    assert "Only a failed notification can be retried." in page_of(response)
    assert http_receiver.requests == [] and not AuditLog.objects.exists()
