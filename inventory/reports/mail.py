"""Sending a ready report by e-mail, its PDF attached, through Django's e-mail backend: the
organisation's to DAYLIGHT_REPORT_RECIPIENTS, a team's to the team's contact address when
DAYLIGHT_REPORT_EMAIL_TEAMS is on."""

from smtplib import SMTPException

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.utils import timezone

from inventory.models import Report

MAX_ERROR = 1000


class SendFailed(Exception):
    """A failed attempt that another attempt may fix (the mail server refused or was away)."""


def recipients_for(team) -> list[str]:
    if team is None:
        return list(settings.DAYLIGHT_REPORT_RECIPIENTS)
    if not settings.DAYLIGHT_REPORT_EMAIL_TEAMS:
        return []
    try:
        validate_email(team.contact)
    except ValidationError:
        return []
    return [team.contact]


def send(report_id: int) -> Report | None:
    """Send the report to its recipients once; raises SendFailed (after recording the error)
    when the mail server could not take it."""
    report = Report.objects.select_related("team").filter(pk=report_id).first()
    if report is None or report.status != Report.Status.READY or report.emailed_at:
        return report
    to = recipients_for(report.team)
    if not to:
        return _record(report, error="Nobody to send it to: no recipients are configured.")
    message = EmailMessage(
        subject=f"Daylight posture report: {report.scope_name}, {report.period_end:%d %b %Y}",
        body=render_to_string("reports/email.txt", {"report": report, "f": report.figures}),
        to=to,
    )
    with report.pdf.open("rb") as pdf:
        message.attach(report.filename("pdf"), pdf.read(), "application/pdf")
    try:
        message.send()
    except (SMTPException, OSError) as exc:
        _record(report, error=f"The mail server did not take it: {exc}")
        raise SendFailed(str(exc)) from None
    return _record(report, to=to)


def _record(report: Report, *, to=(), error="") -> Report:
    report.emailed_to = ", ".join(to)
    report.emailed_at = timezone.now() if to else None
    report.email_error = error[:MAX_ERROR]
    report.save(update_fields=["emailed_to", "emailed_at", "email_error"])
    return report
