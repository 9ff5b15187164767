"""Posture reports on a small estate whose figures are known: counted by the selector, rendered
as HTML, as a PDF that reads back with the same figures, and as CSV; attacker-chosen names stay
text in every format."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.templatetags.static import static
from django.utils import timezone
from pypdf import PdfReader

from collectors.records import Endpoint
from inventory import selectors, services, tasks
from inventory.ingest import ScopeIngest
from inventory.models import (
    AuditLog,
    Finding,
    FindingStatus,
    OwnershipRule,
    Report,
    Severity,
    Team,
)
from inventory.reports import mail, making
from tests.conftest import asset

pytestmark = pytest.mark.django_db
EVIL = '<script>alert("x")</script>=HYPERLINK("http://evil")'


def _collect(scope_run, key, at, *records):
    job = ScopeIngest(scope_run(key, at))
    for record in records:
        job.add(record)
    job.finish(complete=True)


def _public():
    return [Endpoint("https://open.example", public=True, auth="none", via="url")]


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def estate(scope_run, admin_user, now):
    """Seven live assets and one gone, first seen 100, 40, 10 and 2 days ago:

    aws        pay-api (Payments, by tag) · old-shadow (untracked, public without auth, 100 d)
               mid-shadow (accepted risk, 10 d) · week-shadow (untracked, 10 d)
    gcp        ml-job (untracked, python3.7 = end of life, 40 d; its accepted risk expired)
    kubernetes new-shadow (untracked, 2 d) · plat-svc (Platform, by tag, 2 d)
    aws        retired: seen 60 days ago, gone 20 days ago.
    """
    teams = {}
    for slug in ("payments", "platform"):
        teams[slug] = Team.objects.create(name=slug.title(), slug=slug, contact=f"{slug}@corp.test")
        OwnershipRule.objects.create(name=slug, team=teams[slug], tag_key="team", tag_value=slug)
    _collect(
        scope_run,
        "s1",
        now - timedelta(days=100),
        asset("arn:pay-api", labels={"team": "payments"}),
        asset("arn:old-shadow", endpoints=_public()),
    )
    _collect(
        scope_run,
        "s2",
        now - timedelta(days=40),
        asset("gcp:ml-job", name="ml-job", provider="gcp", runtime="python3.7"),
    )
    _collect(
        scope_run,
        "s3",
        now - timedelta(days=10),
        asset("arn:mid-shadow"),
        asset("arn:week-shadow"),
    )
    _collect(
        scope_run,
        "s4",
        now - timedelta(days=2),
        asset("k8s:new-shadow", name="new-shadow", provider="kubernetes", kind="workload"),
        asset(
            "k8s:plat-svc",
            name="plat-svc",
            provider="kubernetes",
            kind="workload",
            labels={"team": "platform"},
        ),
    )
    _collect(scope_run, "s5", now - timedelta(days=60), asset("arn:retired"))
    _collect(scope_run, "s5", now - timedelta(days=20))
    assets = {a.name: a for a in selectors.live_assets()}
    services.accept_risk([assets["mid-shadow"]], admin_user, "lab kit")
    services.accept_risk(
        [assets["ml-job"]], admin_user, "until the rewrite", expires_at=now - timedelta(minutes=1)
    )
    assert services.expire_decisions(now) == 1
    return {"teams": teams, **assets}


def _figures(team=None, *, now, days=30):
    """The period ends a minute after ``now``: the estate's decisions were taken (and audited)
    at the real time, a moment after it."""
    until = now + timedelta(minutes=1)
    return selectors.posture_report(team, since=now - timedelta(days=days), until=until, now=now)


def test_organisation_figures_on_a_known_estate(estate, now, django_assert_max_num_queries):
    with django_assert_max_num_queries(16):
        figures = _figures(now=now)
    assert figures["summary"] | {"open_findings": 0, "critical_high": 0} == {
        "total": 7,
        "tracked": 2,
        "accepted": 1,
        "untracked": 4,
        "owned_percent": 29,  # 2 of 7
        "accounted_percent": 43,  # 3 of 7
        "exposed": 1,
        "exposed_untracked": 1,
        "eol": 1,
        "open_findings": 0,
        "critical_high": 0,
    }
    providers = {row["provider"]: row for row in figures["coverage"]["providers"]}
    assert [row["provider"] for row in figures["coverage"]["providers"]] == [
        "AWS",
        "Kubernetes",
        "Google Cloud",
    ]
    assert (providers["AWS"]["total"], providers["AWS"]["tracked"]) == (4, 1)
    assert (providers["AWS"]["accepted"], providers["AWS"]["untracked"]) == (1, 2)
    assert providers["AWS"]["owned_percent"] == 25
    assert (
        providers["Kubernetes"]["owned_percent"],
        providers["Google Cloud"]["owned_percent"],
    ) == (
        50,
        0,
    )
    assert [(row["bucket"], row["count"]) for row in figures["aging"]] == [
        ("under_7", 1),
        ("7_to_30", 1),
        ("30_to_90", 1),
        ("over_90", 1),
    ]
    assert [a["name"] for a in figures["oldest_untracked"]] == [
        "old-shadow",
        "ml-job",
        "week-shadow",
        "new-shadow",
    ]
    assert [a["age_days"] for a in figures["oldest_untracked"]] == [100, 40, 10, 2]
    assert [a["name"] for a in figures["exposed_untracked"]] == ["old-shadow"]
    assert {row["rule"]: row["count"] for row in figures["lifecycle"]}["runtime-eol"] == 1
    assert [(r["version"], r["state"], r["count"]) for r in figures["end_of_life"]] == [
        ("python3.7", "eol", 1)
    ]
    changes = figures["changes"]
    assert (changes["new"], changes["new_untracked"], changes["gone"]) == (4, 2, 1)
    assert changes["owner_changes"] == 1  # plat-svc found with its owner
    assert (changes["risks_accepted"], changes["risks_expired"]) == (2, 1)
    assert changes["decisions_total"] == 2
    assert [a["name"] for a in changes["new_untracked_assets"]] == ["new-shadow", "week-shadow"]


def test_open_findings_are_counted_by_severity(estate, now):
    figures = _figures(now=now)
    open_live = Finding.objects.filter(status=FindingStatus.OPEN, asset__gone_at__isnull=True)
    expected = {
        label: open_live.filter(severity=value).count() for value, label in Severity.choices
    }
    assert {r["severity"]: r["count"] for r in figures["findings"]["by_severity"]} == expected
    assert figures["findings"]["total"] == open_live.count() > 0
    assert figures["summary"]["critical_high"] == expected["Critical"] + expected["High"]
    rules = {row["rule"] for row in figures["findings"]["by_rule"]}
    assert {"runtime-eol", "unauthenticated-endpoint"} <= rules


def test_a_team_report_counts_only_the_team_assets(estate, now):
    figures = _figures(estate["teams"]["platform"], now=now)
    assert figures["scope"] == "Platform"
    assert figures["summary"]["total"] == 1 and figures["summary"]["owned_percent"] == 100
    assert figures["summary"]["untracked"] == 0 and figures["oldest_untracked"] == []
    assert (figures["changes"]["new"], figures["changes"]["owner_changes"]) == (1, 1)
    assert figures["changes"]["decisions_total"] == 0


def test_the_next_report_compares_with_the_previous_one(estate, now, admin_user):
    first = making.create(trigger=Report.Trigger.MANUAL)
    making.make(first.pk)
    first.refresh_from_db()
    assert first.status == Report.Status.READY, first.error
    services.assign_owner([estate["week-shadow"]], estate["teams"]["payments"], admin_user)
    second = making.create(trigger=Report.Trigger.MANUAL)
    assert second.period_start == first.period_end
    making.make(second.pk)
    second.refresh_from_db()
    compared = {row["figure"]: row for row in second.figures["compared"]}
    assert (compared["untracked"]["before"], compared["untracked"]["now"]) == (4, 3)
    assert compared["untracked"]["change"] == -1 and compared["tracked"]["change"] == 1
    assert second.figures["changes"]["decisions_total"] == 1
    assert second.figures["changes"]["owner_changes"] == 1


@pytest.fixture
def made(estate, now):
    report = making.create(estate["teams"]["payments"], trigger=Report.Trigger.MANUAL, now=now)
    report = making.make(report.pk)
    assert report.status == Report.Status.READY, report.error
    return report


def test_a_report_is_stored_as_html_pdf_and_csv(made, media_root):
    day = f"{made.period_end:%Y-%m-%d}"
    for field, extension in ((made.html, "html"), (made.pdf, "pdf"), (made.csv, "csv")):
        assert field.name.endswith(f"/{made.pk}/daylight-posture-payments-{day}.{extension}")
        assert (media_root / field.name).is_file()
    assert made.pdf.read().startswith(b"%PDF-")
    html = made.html.read().decode()
    assert '<link rel="stylesheet" href="/static/daylight/report.css">' in html
    assert "<script" not in html and "style=" not in html and "<style" not in html


def test_a_stored_page_keeps_its_stylesheet_when_the_static_files_are_built_again(
    estate, now, settings, tmp_path
):
    """Production serves hashed static names from a manifest that each release builds anew; a
    report page stored under one release must link a name the next build still serves."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    report = making.make(making.create(trigger=Report.Trigger.MANUAL, now=now).pk)

    (href,) = re.findall(r'<link rel="stylesheet" href="([^"]+)">', report.html.read().decode())
    assert href != static("daylight/report.css")  # not this build's hashed name ...
    served = tmp_path / href.removeprefix("/static/")  # ... but one every build writes
    assert served.read_text() == (tmp_path / "daylight" / "report.css").read_text()


def _pdf_text(report) -> str:
    with report.pdf.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_reads_back_with_the_figures(estate, now):
    report = making.make(making.create(trigger=Report.Trigger.MANUAL, now=now).pk)
    text = _pdf_text(report)
    assert "Organisation" in text and "posture report" in text
    for phrase in ("Live assets", "Untracked assets by age", "Internet exposure", "End of life"):
        assert phrase in text
    assert "old-shadow" in text and "python3.7" in text
    assert "29%" in text  # owned, AWS 25%, Kubernetes 50%
    assert "25%" in text and "50%" in text
    assert "Page 1 of" in text


def test_the_csv_parses_and_matches_the_figures(made):
    rows = list(csv.DictReader(io.StringIO(made.csv.read().decode())))
    values = {(r["section"], r["item"], r["measure"]): r["value"] for r in rows}
    assert values[("summary", "", "total")] == "1"
    assert values[("coverage", "All providers", "owned_percent")] == "100"
    assert values[("coverage", "AWS", "tracked")] == "1"
    assert values[("untracked_aging", "Over 90 days", "assets")] == "0"
    assert values[("changes", "", "new")] == "0"
    assert {r["section"] for r in rows} >= {"summary", "coverage", "untracked_aging", "changes"}


def test_attacker_chosen_names_stay_text_everywhere(scope_run, now):
    _collect(
        scope_run,
        "evil",
        now - timedelta(days=3),
        asset("arn:evil", name=EVIL, endpoints=_public(), account="=cmd|' /C calc'!A0"),
    )
    report = making.make(making.create(trigger=Report.Trigger.MANUAL, now=now).pk)
    assert report.status == Report.Status.READY, report.error
    html = report.html.read().decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert '<script>alert("x")</script>' in _pdf_text(report).replace("\n", "")
    rows = list(csv.reader(io.StringIO(report.csv.read().decode())))
    names = [row[3] for row in rows if row[2] == "name"]
    accounts = [row[3] for row in rows if row[2] == "account"]
    assert EVIL in names  # starts with "<": not a formula, kept as it is
    assert all(value == "'=cmd|' /C calc'!A0" for value in accounts)
    assert all(not row[1].startswith(("=", "+", "-", "@")) for row in rows)


def test_a_ready_report_is_emailed_with_its_pdf(estate, now, settings, smtp_server):
    settings.DAYLIGHT_REPORT_RECIPIENTS = ["ciso@corp.test", "audit@corp.test"]
    report = making.make(making.create(trigger=Report.Trigger.MANUAL, email=True, now=now).pk)
    report = mail.send(report.pk)
    assert report.emailed_to == "ciso@corp.test, audit@corp.test" and report.emailed_at
    [(to, message)] = smtp_server.messages
    assert to == ["ciso@corp.test", "audit@corp.test"]
    assert message["Subject"].startswith("Daylight posture report: Organisation")
    assert "Untracked: 4" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == report.filename("pdf")
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    assert "Organisation" in pdf.pages[0].extract_text()
    assert mail.send(report.pk).emailed_at == report.emailed_at  # sent once
    assert len(smtp_server.messages) == 1


def test_a_team_report_goes_to_the_team_contact_when_asked(estate, now, settings, smtp_server):
    settings.DAYLIGHT_REPORT_EMAIL_TEAMS = True
    team = estate["teams"]["payments"]
    report = making.make(making.create(team, trigger=Report.Trigger.MANUAL, now=now).pk)
    mail.send(report.pk)
    assert [to for to, _ in smtp_server.messages] == [["payments@corp.test"]]


def test_a_refused_email_is_recorded_on_the_report(estate, now, settings, smtp_server):
    settings.DAYLIGHT_REPORT_RECIPIENTS = ["ciso@corp.test"]
    smtp_server.refuse = 1
    report = making.make(making.create(trigger=Report.Trigger.MANUAL, now=now).pk)
    with pytest.raises(mail.SendFailed):
        mail.send(report.pk)
    report.refresh_from_db()
    assert report.emailed_at is None and "451" in report.email_error
    assert mail.send(report.pk).emailed_to == "ciso@corp.test"  # the next attempt goes out


def test_the_schedule_makes_the_organisation_and_every_team_report(
    estate, settings, tasks_in_process, django_capture_on_commit_callbacks, smtp_server
):
    settings.DAYLIGHT_REPORT_RECIPIENTS = ["ciso@corp.test"]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.posture_reports() == 3
    reports = list(Report.objects.order_by("id"))
    assert [(r.scope, r.scope_name, r.status) for r in reports] == [
        ("organisation", "Organisation", "ready"),
        ("team", "Payments", "ready"),
        ("team", "Platform", "ready"),
    ]
    assert [r.trigger for r in reports] == ["schedule"] * 3
    assert [to for to, _ in smtp_server.messages] == [["ciso@corp.test"]]  # teams: not asked


def test_the_beat_schedule_is_quarterly_by_default(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["daylight-posture-reports"]
    assert entry["task"] == "daylight.posture_reports"
    schedule = entry["schedule"]
    assert schedule.month_of_year == {1, 4, 7, 10} and schedule.day_of_month == {1}
    assert (schedule.hour, schedule.minute) == ({6}, {0})


def test_an_admin_asks_for_a_report_through_the_audited_service(
    estate, admin_user, tasks_in_process, django_capture_on_commit_callbacks
):
    team = estate["teams"]["platform"]
    with django_capture_on_commit_callbacks(execute=True):
        report = services.request_report(admin_user, team, email=False)
    report.refresh_from_db()
    assert report.status == Report.Status.READY and report.requested_by == admin_user
    assert report.trigger == Report.Trigger.MANUAL
    entry = AuditLog.objects.get(action="report.generate")
    assert (entry.actor, entry.object_type, entry.object_id) == (
        admin_user,
        "report",
        str(report.pk),
    )
    assert entry.after == {"scope": "Platform", "email": False}
