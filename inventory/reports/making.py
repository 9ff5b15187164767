"""Making reports: a pending row for each report asked for (on a schedule or by an admin), then
its figures computed and its files rendered and stored, once."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from inventory import selectors
from inventory.models import Report, Team

from . import mail, render

logger = logging.getLogger(__name__)
MAX_ERROR = 1000


def previous(team=None, before=None) -> Report | None:
    """The latest ready report of the same scope (ending before ``before``): the one a new
    report starts where it ended, and compares its figures with."""
    reports = Report.objects.filter(status=Report.Status.READY)
    if team is None:
        reports = reports.filter(scope=Report.Scope.ORGANISATION)
    else:
        reports = reports.filter(team=team)
    if before is not None:
        reports = reports.filter(period_end__lt=before)
    return reports.order_by("-period_end", "-id").first()


def create(team=None, *, trigger, actor=None, email=False, now=None) -> Report:
    """A pending report for the organisation (``team`` None) or one team, over the time since
    the previous one (or the last ``DAYLIGHT_REPORT_PERIOD_DAYS`` for the first)."""
    now = now or timezone.now()
    before = previous(team, now)
    since = before.period_end if before else now - timedelta(days=settings.DAYLIGHT_REPORT_DAYS)
    return Report.objects.create(
        scope=Report.Scope.TEAM if team else Report.Scope.ORGANISATION,
        team=team,
        scope_name=team.name if team else Report.Scope.ORGANISATION.label,
        scope_slug=team.slug if team else "",
        period_start=since,
        period_end=now,
        trigger=trigger,
        requested_by=actor,
        email=email,
    )


def create_scheduled(now=None) -> list[Report]:
    """The reports the schedule makes: the organisation's and one per team, each e-mailed when
    it has recipients."""
    now = now or timezone.now()
    reports = []
    for team in [None, *Team.objects.order_by("name")]:
        email = bool(mail.recipients_for(team))
        reports.append(create(team, trigger=Report.Trigger.SCHEDULE, email=email, now=now))
    return reports


def make(report_id: int) -> Report | None:
    """Compute the report's figures and render and store its files. A report already made (a
    task delivered twice) is left as it is; one that fails says why."""
    report = Report.objects.select_related("team").filter(pk=report_id).first()
    if report is None or report.status != Report.Status.PENDING:
        return report
    try:
        _compute_and_render(report)
    except Exception as exc:  # any failure is the report's, recorded on it for its readers
        logger.exception("posture report %s could not be made", report.pk)
        report.status, report.error = Report.Status.FAILED, f"{type(exc).__name__}: {exc}"
        report.error = report.error[:MAX_ERROR]
        report.finished_at = timezone.now()
        report.save(update_fields=["status", "error", "finished_at"])
        return report
    if report.email:
        transaction.on_commit(lambda: _queue_email(report.pk), robust=True)
    return report


def _compute_and_render(report: Report) -> None:
    if report.scope == Report.Scope.TEAM and report.team is None:
        raise ValueError(f"The team {report.scope_name} no longer exists.")
    before = previous(report.team, report.period_end)
    report.figures = selectors.posture_report(
        report.team,
        since=report.period_start,
        until=report.period_end,
        previous=before.figures.get("summary") if before else None,
    )
    files = {
        "html": render.html(report).encode(),
        "pdf": render.pdf(report),
        "csv": render.csv_text(report).encode(),
    }
    with transaction.atomic():
        for extension, content in files.items():
            getattr(report, extension).save(
                report.filename(extension), ContentFile(content), save=False
            )
        report.status, report.finished_at = Report.Status.READY, timezone.now()
        report.save()


def _queue_email(report_id: int) -> None:
    from inventory.tasks import email_report

    email_report.delay(report_id)
