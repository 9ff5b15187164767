"""``manage.py collect``: run collections now, in this process, with progress on the terminal."""

from django.core.management.base import BaseCommand, CommandError

from collectors.runner import run_source
from inventory.models import RunStatus, RunTrigger, Source
from inventory.selectors import warm_rollups
from inventory.tasks import notify_run

# Runs that did not read everything they should have: the command exits non-zero for them.
UNHEALTHY = (RunStatus.FAILED, RunStatus.PARTIAL)
SUMMARY_COLUMNS = (
    "source",
    "status",
    "scopes ok",
    "scopes failed",
    "seen",
    "new",
    "changed",
    "gone",
    "events",
    "duration",
)


def seconds(delta) -> str:
    return f"{delta.total_seconds():.1f}s" if delta is not None else "-"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def counts(run) -> str:
    return (
        f"seen {run.seen} new {run.new} changed {run.changed} gone {run.gone} events {run.events}"
    )


class Command(BaseCommand):
    help = (
        "Collect sources now, synchronously, printing each scope as it finishes. "
        "Without --source: every enabled source. Exits non-zero when any run failed or "
        "partially failed; a source another process is collecting is skipped and reported."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            action="append",
            dest="sources",
            metavar="NAME",
            help="Collect this source (repeat for several); disabled sources are collected too.",
        )

    def handle(self, *args, sources=None, **options):
        chosen = self.chosen_sources(sources)
        if not chosen:
            self.stdout.write("No enabled sources to collect.")
            return
        runs = [self.collect(source) for source in chosen]
        # As the collection task does: the figures are counted here, not by the next viewer.
        warm_rollups()
        self.stdout.write("")
        self.write_summary(runs)
        self.write_failures(runs)
        unhealthy = [run for run in runs if run.status in UNHEALTHY]
        if unhealthy:
            names = ", ".join(f"{run.source.name} ({run.status})" for run in unhealthy)
            raise CommandError(f"{len(unhealthy)} of {len(runs)} sources did not collect: {names}")

    def chosen_sources(self, names) -> list[Source]:
        if not names:
            return list(Source.objects.filter(enabled=True).order_by("name"))
        names = list(dict.fromkeys(names))
        found = {s.name: s for s in Source.objects.filter(name__in=names)}
        unknown = [name for name in names if name not in found]
        if unknown:
            known = ", ".join(Source.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(
                f"Unknown source {', '.join(unknown)}. Known sources: {known or '(none)'}"
            )
        return [found[name] for name in names]

    def collect(self, source):
        self.stdout.write(f"Collecting {source.name} ({source.provider})")
        run = run_source(source, RunTrigger.COMMAND, on_scope=self.report_scope)
        # In this process: the deliveries are recorded even when no worker is listening, and
        # sent by one when there is (or at once, embedded).
        notify_run(run.pk)
        return run

    def report_scope(self, scope_run):
        ok = scope_run.status == RunStatus.SUCCEEDED
        status = self.style.SUCCESS if ok else self.style.ERROR
        line = (
            f"  {scope_run.scope.key}  {status(scope_run.status)}  {counts(scope_run)}  "
            f"{seconds(scope_run.finished_at - scope_run.started_at)}"
        )
        if scope_run.error:
            line += f"\n    {first_line(scope_run.error)}"
        self.stdout.write(line)

    def write_summary(self, runs):
        rows = [SUMMARY_COLUMNS]
        for run in runs:
            scope_statuses = list(run.scope_runs.values_list("status", flat=True))
            ok = scope_statuses.count(RunStatus.SUCCEEDED)
            rows.append(
                (
                    run.source.name,
                    run.status,
                    str(ok),
                    str(len(scope_statuses) - ok),
                    *(str(getattr(run, name)) for name in SUMMARY_COLUMNS[4:9]),
                    seconds(run.duration),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_COLUMNS))]
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())

    def write_failures(self, runs):
        """Name every scope (or whole source) that was not read, and why."""
        lines = []
        for run in runs:
            failed = run.scope_runs.exclude(status=RunStatus.SUCCEEDED).select_related("scope")
            lines += [
                f"  {run.source.name} {s.scope.key} ({s.status}): {first_line(s.error)}"
                for s in failed
            ]
            if run.error and not run.scope_runs.exists():
                lines.append(f"  {run.source.name} ({run.status}): {first_line(run.error)}")
        if lines:
            self.stdout.write("")
            self.stdout.write(self.style.ERROR("Not collected:"))
            self.stdout.write("\n".join(lines))
