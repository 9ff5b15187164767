"""Channels and rules are configuration: validated, kept free of secrets, and audited."""

import pytest
from django.core.exceptions import ValidationError

from inventory import services
from inventory.models import AuditLog, NotificationChannel, NotificationRule, Team

pytestmark = pytest.mark.django_db


def channel(**fields):
    return NotificationChannel(name=fields.pop("name", "c"), **fields)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "slack", "url": "https://hooks.slack.com/services/T/B/X"}, "url"),
        ({"kind": "teams", "url": "https://example.webhook.office.com/x?sig=abc"}, "url"),
        ({"kind": "webhook"}, "url_env"),
        ({"kind": "webhook", "url": "https://u:pw@hooks.example/"}, "url"),
        ({"kind": "webhook", "url": "https://a.example/", "url_env": "HOOK_URL"}, "url"),
        (
            {"kind": "webhook", "url": "https://a.example/", "secret_env": "not a name"},
            "secret_env",
        ),
        ({"kind": "slack", "url_env": "SLACK_URL", "secret_env": "KEY"}, "secret_env"),
        ({"kind": "email", "recipients": "ok@example.com, not-an-address"}, "recipients"),
        ({"kind": "email", "url": "https://a.example/"}, "url"),
        (
            {"kind": "webhook", "url": "https://a.example/", "recipients": "a@example.com"},
            "recipients",
        ),
    ],
)
def test_channels_that_would_hold_secrets_or_cannot_work_are_refused(fields, field, admin_user):
    with pytest.raises(ValidationError) as refused:
        services.save_config(channel(**fields), admin_user)
    assert field in refused.value.message_dict
    assert not NotificationChannel.objects.exists() and not AuditLog.objects.exists()


def test_a_channel_is_saved_with_references_only_and_audited(admin_user):
    saved = services.save_config(
        channel(
            name="siem",
            kind="webhook",
            url="https://siem.example/hook",
            secret_env="DAYLIGHT_SIEM_SECRET",
        ),
        admin_user,
    )
    entry = AuditLog.objects.get()
    assert (entry.action, entry.object_id, entry.actor) == (
        "channel.create",
        str(saved.pk),
        admin_user,
    )
    assert entry.after["secret_env"] == "DAYLIGHT_SIEM_SECRET"


def test_rules_about_untracked_assets_or_sources_take_no_team(admin_user):
    team = Team.objects.create(name="Payments", slug="payments")
    hook = NotificationChannel.objects.create(name="h", kind="webhook", url="https://a.example/")
    for event in ("new_untracked", "source_failing"):
        with pytest.raises(ValidationError) as refused:
            services.save_config(
                NotificationRule(name="r", event=event, team=team, channel=hook), admin_user
            )
        assert "team" in refused.value.message_dict
    rule = services.save_config(
        NotificationRule(name="pay exposed", event="exposed", team=team, channel=hook), admin_user
    )
    entry = AuditLog.objects.get(action="notification_rule.create")
    assert entry.after == {
        "name": "pay exposed",
        "event": "exposed",
        "team": "Payments",
        "channel": "h",
        "failing_runs": 3,
        "enabled": True,
    }
    assert rule.pk


def test_an_email_channel_for_the_teams_contact_needs_a_team(admin_user):
    mail = NotificationChannel.objects.create(name="m", kind="email")
    with pytest.raises(ValidationError) as refused:
        services.save_config(NotificationRule(name="r", event="exposed", channel=mail), admin_user)
    assert "channel" in refused.value.message_dict


def test_the_admin_saves_rules_through_the_audited_service(client, admin_user):
    hook = NotificationChannel.objects.create(name="h", kind="webhook", url="https://a.example/")
    client.force_login(admin_user)
    response = client.post(
        "/admin/inventory/notificationrule/add/",
        {"name": "shadow", "event": "new_untracked", "channel": hook.pk, "failing_runs": 3,
         "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    assert AuditLog.objects.filter(action="notification_rule.create", actor=admin_user).exists()
