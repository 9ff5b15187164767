"""``manage.py sources import|export`` against the real database."""

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from collectors.base import PROVIDERS
from inventory.models import AuditLog, Source
from inventory.schedules import task_name

pytestmark = pytest.mark.django_db

FILE = """\
sources:
  - name: lab
    provider: demo
    config: {seed: 3, scale: 1, fail_scopes: [docker/lab-gpu-02.corp.example]}
    schedule: "*/15 * * * *"
    description: GPU lab
  - name: estate
    provider: demo
    endpoint_url: http://127.0.0.1:9/demo
    enabled: false
"""


def run(*args) -> str:
    out = StringIO()
    call_command("sources", *args, stdout=out)
    return out.getvalue()


def write(tmp_path, text, name="sources.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_creates_every_source_and_audits_it(tmp_path):
    output = run("import", str(write(tmp_path, FILE)))

    assert "created lab" in output and "created estate" in output
    assert "2 created, 0 updated, 0 unchanged" in output
    lab = Source.objects.get(name="lab")
    assert lab.config == {"seed": 3, "scale": 1, "fail_scopes": ["docker/lab-gpu-02.corp.example"]}
    assert (lab.schedule, lab.enabled, lab.description) == ("*/15 * * * *", True, "GPU lab")
    estate = Source.objects.get(name="estate")
    assert (estate.endpoint_url, estate.enabled, estate.schedule) == (
        "http://127.0.0.1:9/demo",
        False,
        "0 * * * *",
    )
    entries = AuditLog.objects.filter(action="source.import").order_by("id")
    assert [(e.object_repr, e.before, e.actor_id) for e in entries] == [
        ("lab", None, None),
        ("estate", None, None),
    ]
    assert entries[0].after["schedule"] == "*/15 * * * *"
    # Saving a source keeps its Celery beat schedule (inventory.signals).
    assert PeriodicTask.objects.get(name=task_name(lab)).crontab.minute == "*/15"


def test_import_updates_named_sources_and_leaves_others_alone(tmp_path):
    lab = Source.objects.create(name="lab", provider="demo", config={"seed": 1})
    other = Source.objects.create(name="other", provider="demo", description="untouched")

    output = run("import", str(write(tmp_path, FILE)))

    assert "updated lab (config, schedule, description)" in output
    lab.refresh_from_db()
    assert lab.config["seed"] == 3 and lab.description == "GPU lab"
    other.refresh_from_db()
    assert other.description == "untouched"
    entry = AuditLog.objects.get(action="source.import", object_id=str(lab.pk))
    assert entry.before["config"] == {"seed": 1}
    assert entry.after["config"]["seed"] == 3


def test_a_key_left_out_takes_its_default(tmp_path):
    Source.objects.create(name="lab", provider="demo", enabled=False, description="old")
    run("import", str(write(tmp_path, "sources:\n- {name: lab, provider: demo}\n")))
    lab = Source.objects.get(name="lab")
    assert (lab.enabled, lab.description) == (True, "")


def test_dry_run_reports_and_writes_nothing(tmp_path):
    Source.objects.create(name="lab", provider="demo")
    output = run("import", str(write(tmp_path, FILE)), "--dry-run")

    assert "would update lab" in output and "would create estate" in output
    assert "Dry run: 1 would create, 1 would update, 0 unchanged" in output
    assert list(Source.objects.values_list("name", flat=True)) == ["lab"]
    assert Source.objects.get(name="lab").config == {}
    assert not AuditLog.objects.filter(action="source.import").exists()


def test_one_bad_entry_means_nothing_is_imported(tmp_path):
    bad = FILE + "  - name: broken\n    provider: demo\n    config: {client_secret: x}\n"
    with pytest.raises(CommandError) as caught:
        run("import", str(write(tmp_path, bad)))

    message = str(caught.value)
    assert "nothing imported" in message
    assert "sources[2] (broken): config.client_secret: credentials must not be stored" in message
    assert not Source.objects.exists()
    assert not AuditLog.objects.exists()


def test_every_problem_is_listed_in_the_error(tmp_path):
    text = "sources:\n- {name: a, provider: nope}\n- {name: a, provider: demo, x: 1}\n"
    with pytest.raises(CommandError) as caught:
        run("import", str(write(tmp_path, text)))
    lines = str(caught.value).splitlines()
    assert lines[1:] == [
        f"  sources[0] (a): unknown provider 'nope' (known: {', '.join(sorted(PROVIDERS))})",
        "  sources[1] (a): unknown key 'x' (allowed: name, provider, config, endpoint_url, "
        "schedule, enabled, description)",
        "  sources[1] (a): name 'a' is used again (first at sources[0])",
    ]


def test_yaml_syntax_error_reaches_the_terminal_with_its_line(tmp_path):
    with pytest.raises(
        CommandError,
        match=r"YAML syntax error at line 3, .* \(while parsing a flow sequence started at line 2",
    ):
        run("import", str(write(tmp_path, "sources:\n  - name: [lab\n")))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.yml"):
        run("import", str(tmp_path / "missing.yml"))


def test_export_to_stdout_is_the_import_format():
    Source.objects.create(
        name="lab", provider="demo", config={"seed": 3}, schedule="5 4 * * *", enabled=False
    )
    document = yaml.safe_load(run("export"))
    assert document == {
        "sources": [
            {
                "name": "lab",
                "provider": "demo",
                "config": {"seed": 3},
                "endpoint_url": "",
                "schedule": "5 4 * * *",
                "enabled": False,
                "description": "",
            }
        ]
    }


def test_export_then_import_changes_nothing(tmp_path):
    run("import", str(write(tmp_path, FILE)))
    Source.objects.create(
        name="odd", provider="demo", config={"epoch": "2026-01-31"}, description="ünïcode: <b>"
    )
    before = {s.name: (s.updated_at, s.config) for s in Source.objects.all()}
    audits = AuditLog.objects.count()
    exported = tmp_path / "exported.yml"

    assert "Exported 3 sources" in run("export", str(exported))
    output = run("import", str(exported))

    assert "0 created, 0 updated, 3 unchanged" in output
    assert {s.name: (s.updated_at, s.config) for s in Source.objects.all()} == before
    assert AuditLog.objects.count() == audits
