"""``manage.py sources import|export``: sources as code, in the format of inventory.sources_file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.models import Source
from inventory.sources_file import SourcesFileError, export_sources, import_sources

VERBS = {"create": "created", "update": "updated", "unchanged": "unchanged"}
DRY_RUN_VERBS = {"create": "would create", "update": "would update", "unchanged": "unchanged"}


class Command(BaseCommand):
    help = (
        "Import sources from a YAML file (all or nothing; sources not in the file are left "
        "alone) or export every source to one."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="import|export")
        load = actions.add_parser("import", help="Create or update the sources a YAML file names.")
        load.add_argument("file", metavar="FILE.yml")
        load.add_argument(
            "--dry-run", action="store_true", help="Check the file and show what would change."
        )
        dump = actions.add_parser("export", help="Write every source as YAML.")
        dump.add_argument("file", nargs="?", metavar="FILE", help="Default: standard output.")

    def handle(self, *args, action, **options):
        if action == "import":
            self.load(options["file"], options["dry_run"])
        else:
            self.dump(options.get("file"))

    def load(self, file, dry_run):
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from None
        try:
            plans = import_sources(text, dry_run=dry_run)
        except SourcesFileError as exc:
            problems = "\n".join(f"  {problem}" for problem in exc.problems)
            raise CommandError(f"{file}: nothing imported:\n{problems}") from None
        verbs = DRY_RUN_VERBS if dry_run else VERBS
        for plan in plans:
            detail = f" ({', '.join(plan.changed_fields)})" if plan.changed_fields else ""
            self.stdout.write(f"{verbs[plan.action]} {plan.name}{detail}")
        totals = {action: sum(p.action == action for p in plans) for action in VERBS}
        summary = ", ".join(f"{count} {verbs[action]}" for action, count in totals.items())
        self.stdout.write(self.style.SUCCESS(summary) if not dry_run else f"Dry run: {summary}")

    def dump(self, file):
        sources = list(Source.objects.order_by("name"))
        text = export_sources(sources)
        if not file:
            self.stdout.write(text, ending="")
            return
        try:
            Path(file).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {file}: {exc}") from None
        self.stdout.write(f"Exported {len(sources)} sources to {file}")
