"""A stored report's files as a download, for the dashboard and the API alike: the caller has
already narrowed the reports to those its reader may see (``scoping.visible_reports``)."""

from django.http import FileResponse, Http404

from inventory.models import Report

CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}


def file_response(report: Report, extension: str) -> FileResponse:
    """One of a ready report's files: the web page opens in the browser, the others download.
    404 for an unknown format or a report that has no files (pending or failed)."""
    if extension not in CONTENT_TYPES:
        raise Http404("No such format.")
    stored = getattr(report, extension)
    if report.status != Report.Status.READY or not stored:
        raise Http404("This report has no files.")
    return FileResponse(
        stored.open("rb"),
        as_attachment=extension != "html",
        filename=report.filename(extension),
        content_type=CONTENT_TYPES[extension],
    )
