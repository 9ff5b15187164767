"""Teams, ownership rules and sources through the API: validated, audited, and applied through
the same services as every other change."""

import base64
import json

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from inventory.models import Asset, AuditLog, CollectionRun, OwnershipRule, Source, Team
from tests.api.conftest import OLD_REPORT, PAY_API


@pytest.fixture
def client(api, admin_user):
    return api(admin_user)


# --- teams --------------------------------------------------------------------------------------


def test_team_crud_by_slug_is_audited(client, admin_user):
    created = client.post(
        "/api/v1/teams/", {"name": "Data <Science>", "slug": "data", "contact": "#data"}
    )
    assert created.status_code == 201, created.content

    changed = client.patch("/api/v1/teams/data/", {"contact": "data@example.com"})
    assert changed.status_code == 200
    assert client.get("/api/v1/teams/data/").json()["contact"] == "data@example.com"

    assert client.delete("/api/v1/teams/data/").status_code == 204
    assert not Team.objects.filter(slug="data").exists()
    assert list(
        AuditLog.objects.filter(object_type="team").order_by("id").values_list("action", flat=True)
    ) == ["team.create", "team.update", "team.delete"]
    update = AuditLog.objects.get(action="team.update")
    assert update.before["contact"] == "#data"
    assert update.after["contact"] == "data@example.com"
    assert update.actor == admin_user


def test_team_members_are_read_and_written_by_username_and_audited(client, admin_user):
    from tests.conftest import make_user

    make_user("alice", "reconciler")
    make_user("bob", "viewer")
    created = client.post(
        "/api/v1/teams/", {"name": "Data", "slug": "data", "members": ["alice"]}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["members"] == ["alice"]
    changed = client.patch("/api/v1/teams/data/", {"members": ["alice", "bob"]}, format="json")
    assert changed.status_code == 200, changed.content
    assert sorted(Team.objects.get(slug="data").members.values_list("username", flat=True)) == [
        "alice",
        "bob",
    ]
    update = AuditLog.objects.get(action="team.update")
    assert (update.before["members"], update.after["members"]) == (["alice"], ["alice", "bob"])
    # other fields alone leave the members as they are
    client.patch("/api/v1/teams/data/", {"contact": "#data"}, format="json")
    assert client.get("/api/v1/teams/data/").json()["members"] == ["alice", "bob"]
    unknown = client.patch("/api/v1/teams/data/", {"members": ["nobody"]}, format="json")
    assert unknown.status_code == 400 and "members" in unknown.json()


def test_only_admins_change_team_members(api, payments):
    from tests.conftest import make_user

    reconciler = make_user("rita", "reconciler")
    response = api(reconciler).patch(
        "/api/v1/teams/payments/", {"members": ["rita"]}, format="json"
    )
    assert response.status_code == 403
    assert not payments.members.exists()


def test_duplicate_team_slug_is_a_400(client, payments):
    response = client.post("/api/v1/teams/", {"name": "Payments 2", "slug": "payments"})

    assert response.status_code == 400
    assert "slug" in response.json()


@pytest.mark.parametrize("slug", ["none", "None", "NONE"])
def test_the_slug_that_means_unowned_is_reserved(client, payments, slug):
    created = client.post("/api/v1/teams/", {"name": "Nobody", "slug": slug})
    renamed = client.patch("/api/v1/teams/payments/", {"slug": slug})

    assert (created.status_code, renamed.status_code) == (400, 400)
    assert "is reserved: it stands for the assets nobody owns" in created.json()["slug"][0]
    assert not Team.objects.filter(slug__iexact="none").exists()


def test_a_team_that_still_owns_assets_cannot_be_deleted(client, estate, payments):
    response = client.delete("/api/v1/teams/payments/")

    assert response.status_code == 409
    assert "still owns 1 live assets and has 1 ownership rules" in response.json()["detail"]
    assert Team.objects.filter(slug="payments").exists()
    assert Asset.objects.get(key=PAY_API).owner == payments


# --- ownership rules ----------------------------------------------------------------------------


def test_creating_a_rule_rederives_owners_and_audits(client, admin_user, estate, platform):
    response = client.post(
        "/api/v1/rules/",
        {
            "name": "dev functions",
            "team": "platform",
            "provider": "aws",
            "tag_key": "env",
            "tag_value": "dev",
            "position": 10,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["team"] == "platform"
    old_report = Asset.objects.get(key=OLD_REPORT)
    assert (old_report.owner, old_report.owner_basis, old_report.tracking) == (
        platform,
        "rule",
        "tracked",
    )
    entry = AuditLog.objects.get(action="rule.create")
    assert entry.before is None
    assert entry.after["tag_value"] == "dev"
    assert old_report.changes.filter(field="owner", actor=admin_user, new="Platform").exists()


def test_changing_and_deleting_a_rule_rederives_owners(client, estate, payments):
    rule = OwnershipRule.objects.get(team=payments)

    client.patch(f"/api/v1/rules/{rule.pk}/", {"tag_value": "billing"}, format="json")
    assert Asset.objects.get(key=PAY_API).tracking == "untracked"
    assert AuditLog.objects.get(action="rule.update").before["tag_value"] == "payments"

    client.patch(f"/api/v1/rules/{rule.pk}/", {"tag_value": "payments"}, format="json")
    assert Asset.objects.get(key=PAY_API).owner == payments

    assert client.delete(f"/api/v1/rules/{rule.pk}/").status_code == 204
    assert Asset.objects.get(key=PAY_API).owner is None
    assert AuditLog.objects.filter(action="rule.delete").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "matches nothing", "team": "platform"}, "non_field_errors"),
        ({"name": "r", "team": "ghosts", "account": "1"}, "team"),
        ({"name": "r", "team": "platform", "provider": "oracle"}, "provider"),
        ({"name": "r", "team": "platform", "tag_value": "x", "account": "1"}, "tag_value"),
    ],
)
def test_invalid_rules_are_refused(client, estate, platform, body, field):
    response = client.post("/api/v1/rules/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert OwnershipRule.objects.count() == 1
    assert not AuditLog.objects.exclude(object_type="apitoken").exists()


# --- sources ------------------------------------------------------------------------------------

GOOD_SOURCE = {"name": "lab", "provider": "demo", "config": {"seed": 3}, "schedule": "15 2 * * *"}


def test_source_create_update_delete_is_audited_and_scheduled(client, admin_user):
    created = client.post("/api/v1/sources/", GOOD_SOURCE, format="json")
    assert created.status_code == 201, created.content
    source = Source.objects.get(name="lab")
    assert PeriodicTask.objects.get(name=f"daylight-source-{source.pk}").crontab.minute == "15"

    changed = client.patch(
        f"/api/v1/sources/{source.pk}/", {"schedule": "*/30 * * * *"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert client.delete(f"/api/v1/sources/{source.pk}/").status_code == 204

    entries = {e.action: e for e in AuditLog.objects.filter(object_type="source")}
    assert set(entries) == {"source.create", "source.update", "source.delete"}
    assert entries["source.create"].after["config"] == {"seed": 3}
    assert entries["source.update"].before["schedule"] == "15 2 * * *"
    assert entries["source.update"].after["schedule"] == "*/30 * * * *"
    assert entries["source.delete"].before["name"] == "lab"
    assert entries["source.delete"].actor == admin_user


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"provider": "oracle"}, "provider", "not a valid choice"),
        ({"schedule": "every hour"}, "schedule", "must have 5 fields"),
        ({"schedule": "61 * * * *"}, "schedule", "not a valid cron expression"),
        ({"config": {"region": "x"}}, "config", "not a demo setting"),
        ({"config": {"seed": 1, "aws_secret_access_key": "abc"}}, "config", "credentials"),
        ({"config": {"password": "hunter2"}}, "config", "name an environment variable"),
        ({"config": {"Key": "abc"}}, "config", "config.Key looks like a credential"),
        ({"config": {"auth": {"apiToken": "t0k"}}}, "config", "config.auth.apiToken"),
        ({"config": {"seed": "-----BEGIN RSA PRIVATE KEY-----\nMII"}}, "config", "config.seed"),
        ({"config": ["seed"]}, "config", "JSON object"),
        ({"name": "not a slug!"}, "name", "slug"),
    ],
)
def test_invalid_sources_are_refused_and_nothing_is_created(client, change, field, message):
    response = client.post("/api/v1/sources/", {**GOOD_SOURCE, **change}, format="json")

    assert response.status_code == 400, response.content
    assert message in " ".join(map(str, response.json()[field]))
    assert not Source.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="daylight-source-").exists()
    assert not AuditLog.objects.exclude(object_type="apitoken").exists()


def test_a_credential_cannot_be_added_to_an_existing_source(client, source):
    response = client.patch(
        f"/api/v1/sources/{source.pk}/", {"config": {"seed": 1, "token": "x"}}, format="json"
    )

    assert response.status_code == 400
    source.refresh_from_db()
    assert source.config == {"seed": 1}
    assert not AuditLog.objects.exclude(object_type="apitoken").exists()


def test_partial_update_is_validated_against_the_stored_source(client, source):
    # The stored provider (demo) judges the new config, although the request does not repeat it.
    response = client.patch(
        f"/api/v1/sources/{source.pk}/", {"config": {"role_arn": "x"}}, format="json"
    )

    assert response.status_code == 400
    assert "not a demo setting" in response.json()["config"][0]


def _queued_collect_tasks():
    """Messages waiting in the Redis broker's default queue for the collect task."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        if message["headers"].get("task") == "daylight.collect_source":
            body = json.loads(base64.b64decode(message["body"]))
            messages.append((raw, body[0]))
    return client, messages


def test_run_now_queues_a_manual_collection(client, source):
    response = client.post(f"/api/v1/sources/{source.pk}/run/")

    assert response.status_code == 202
    assert response.json() == {"source": source.pk, "queued": True}
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # Embedded mode: the task ran in-process, so the run exists already.
        run = CollectionRun.objects.get(source=source)
        assert (run.trigger, run.status) == ("manual", "succeeded")
        assert Asset.objects.filter(source=source).exists()
    else:
        broker, messages = _queued_collect_tasks()
        mine = [raw for raw, args in messages if args == [source.pk, "manual"]]
        assert len(mine) == 1
        broker.lrem("celery", 1, mine[0])


def test_run_now_refuses_a_disabled_source(client, source):
    Source.objects.filter(pk=source.pk).update(enabled=False)

    response = client.post(f"/api/v1/sources/{source.pk}/run/")

    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    assert not CollectionRun.objects.exists()


def test_source_detail_shape(client, source):
    body = client.get(f"/api/v1/sources/{source.pk}/").json()

    assert body["config"] == {"seed": 1}
    assert set(body) == {
        "id",
        "name",
        "provider",
        "config",
        "endpoint_url",
        "schedule",
        "enabled",
        "description",
        "created_at",
        "updated_at",
    }
