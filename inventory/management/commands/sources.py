"""``manage.py sources import|export|uncovered``: sources as code, in the format of
inventory.sources_file, and what exists that no source collects."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from collectors.base import CollectorError
from inventory.coverage import uncovered_accounts, uncovered_contexts
from inventory.models import Source
from inventory.sources_file import SourcesFileError, export_sources, import_sources

VERBS = {"create": "created", "update": "updated", "unchanged": "unchanged"}
DRY_RUN_VERBS = {"create": "would create", "update": "would update", "unchanged": "unchanged"}


class Command(BaseCommand):
    help = (
        "Import sources from a YAML file (all or nothing; sources not in the file are left "
        "alone), export every source to one, or list what no source collects."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="import|export|uncovered"
        )
        load = actions.add_parser("import", help="Create or update the sources a YAML file names.")
        load.add_argument("file", metavar="FILE.yml")
        load.add_argument(
            "--dry-run", action="store_true", help="Check the file and show what would change."
        )
        dump = actions.add_parser("export", help="Write every source as YAML.")
        dump.add_argument("file", nargs="?", metavar="FILE", help="Default: standard output.")
        shadow = actions.add_parser(
            "uncovered",
            help="Accounts, projects, subscriptions and kubeconfig contexts no enabled source "
            "collects; exit status 1 when there are any.",
        )
        shadow.add_argument(
            "--kubeconfig",
            action="append",
            metavar="PATH",
            help="Also read this kubeconfig's contexts (repeatable; '-' for KUBECONFIG or "
            "~/.kube/config).",
        )

    def handle(self, *args, action, **options):
        if action == "import":
            self.load(options["file"], options["dry_run"])
        elif action == "export":
            self.dump(options.get("file"))
        else:
            self.uncovered(options.get("kubeconfig") or [])

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

    def uncovered(self, kubeconfigs):
        """Print what no enabled source collects: accounts reported by a listing (organizations,
        folders, subscriptions, kubeconfig contexts a source lists), then the contexts of the
        kubeconfigs given whose cluster no source reaches."""
        found = 0
        for account in uncovered_accounts():
            found += 1
            self.stdout.write(f"{account.provider}\t{account.account}\t{account.name}")
        for path in kubeconfigs:
            try:
                contexts = uncovered_contexts("" if path == "-" else path)
            except CollectorError as exc:
                raise CommandError(f"Cannot read kubeconfig {path}: {exc}") from None
            for context in contexts:
                found += 1
                where = context["server"] or "(no server)"
                self.stdout.write(f"kubernetes\t{where}\t{context['name']}\t{path}")
        if found:
            raise CommandError(f"{found} not collected by any enabled source", returncode=1)
        self.stdout.write(self.style.SUCCESS("Every known account and cluster is collected."))
