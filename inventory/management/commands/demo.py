"""``manage.py demo``: fill Daylight with the seeded demo estate, through the real collector path.

Teams and ownership rules come first, so every collection derives owners as it would in
production; then the ``demo-estate`` source is collected once per simulated day to build
history and trends. The GPU lab host is a source of its own, ``demo-lab``, collected alongside
until its last collection, which fails (access denied): the dashboard shows a stale, failing
source whose assets are kept, not marked gone.
"""

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from collectors.base import SourceSettings
from collectors.demo import DemoCollector
from collectors.runner import run_source
from inventory.models import (
    Asset,
    OwnershipRule,
    RunStatus,
    RunTrigger,
    Source,
    Team,
    TrackingStatus,
)
from inventory.services import save_rule

ESTATE_SOURCE, LAB_SOURCE = "demo-estate", "demo-lab"
LAB_SCOPE = "docker/lab-gpu-02.corp.example"
BACKFILL_HOUR = clock_time(6, tzinfo=UTC)

TEAMS = {
    "payments": "Payments",
    "platform": "Platform",
    "data-science": "Data Science",
    "identity": "Identity",
    "marketing": "Marketing",
    "security": "Security",
}
# Teams whose assets the demo estate tags with team=<slug> and puts in resource group rg-<slug>.
TAGGING_TEAMS = ("payments", "platform", "data-science", "identity", "marketing")
# Teams with a Kubernetes namespace of their own name.
NAMESPACE_TEAMS = ("payments", "platform", "identity")


def demo_rules() -> list[tuple[str, str, dict]]:
    """(rule name, team slug, conditions) in the order they are tried."""
    rules = [
        (f"Tag team={slug}", slug, {"tag_key": "team", "tag_value": slug}) for slug in TAGGING_TEAMS
    ]
    rules += [(f"Namespace {slug}", slug, {"namespace": slug}) for slug in NAMESPACE_TEAMS]
    rules += [
        (f"Resource group rg-{slug}", slug, {"namespace": f"rg-{slug}"}) for slug in TAGGING_TEAMS
    ]
    rules += [
        ("Build host build-01", "platform", {"account": "build-01.corp.example"}),
        ("Kube-system", "platform", {"provider": "kubernetes", "namespace": "kube-system"}),
    ]
    return rules


class Command(BaseCommand):
    help = (
        "Load the demo estate: teams, ownership rules and two demo sources, collected once per "
        "simulated day for --days days and once now. Run again, it collects once more now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="Days of history (default 90).")
        parser.add_argument("--scale", type=int, default=3, help="Estate size factor (default 3).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")

    def handle(self, *args, days, scale, seed, **options):
        if days < 0 or scale < 1:
            raise CommandError("--days must be 0 or more and --scale 1 or more.")
        started = time.monotonic()
        self.ensure_teams_and_rules()
        epoch = (timezone.now().date() - timedelta(days=days)).isoformat()
        settings = {"seed": seed, "scale": scale, "epoch": epoch}
        scope_keys = [
            spec.key
            for spec in DemoCollector(
                SourceSettings(ESTATE_SOURCE, "demo", settings), timezone.now()
            ).scopes()
        ]
        estate, created = Source.objects.get_or_create(
            name=ESTATE_SOURCE,
            defaults={
                "provider": "demo",
                "config": {**settings, "scopes": [k for k in scope_keys if k != LAB_SCOPE]},
                "description": "Seeded demo estate across every provider.",
            },
        )
        lab, _ = Source.objects.get_or_create(
            name=LAB_SOURCE,
            defaults={
                "provider": "demo",
                "config": {**estate.config, "scopes": [LAB_SCOPE]},
                "description": "A GPU lab host nobody registered; access to it is denied now.",
            },
        )
        if created:
            self.backfill([estate, lab], days)
        else:
            self.stdout.write(f"{ESTATE_SOURCE} exists already: collecting now.")
        self.collect(estate, "now")
        lab.config = {**lab.config, "fail_scopes": [LAB_SCOPE]}
        lab.save()
        self.collect(lab, "now (access denied)")
        self.write_totals(time.monotonic() - started)

    @transaction.atomic
    def ensure_teams_and_rules(self):
        teams = {}
        for slug, name in TEAMS.items():
            teams[slug], _ = Team.objects.get_or_create(slug=slug, defaults={"name": name})
        existing = set(OwnershipRule.objects.values_list("name", flat=True))
        for position, (name, slug, conditions) in enumerate(demo_rules(), start=1):
            if name not in existing:
                rule = OwnershipRule(name=name, position=position * 10, **conditions)
                rule.team = teams[slug]
                save_rule(rule, None)

    def backfill(self, sources, days):
        epoch = date.fromisoformat(sources[0].config["epoch"])
        self.stdout.write(f"Backfilling {days} days from {epoch}")
        for day in range(days):
            at = datetime.combine(epoch + timedelta(days=day), BACKFILL_HOUR)
            for source in sources:
                run = run_source(source, RunTrigger.COMMAND, at=at)
                if (day + 1) % 10 == 0 or day + 1 == days or run.status != RunStatus.SUCCEEDED:
                    self.stdout.write(
                        f"  day {day + 1}/{days} {at:%Y-%m-%d} {source.name}: {self.outcome(run)}"
                    )

    def collect(self, source, label):
        run = run_source(source, RunTrigger.COMMAND)
        self.stdout.write(f"{source.name} {label}: {self.outcome(run)}")

    @staticmethod
    def outcome(run) -> str:
        return (
            f"{run.status}, seen {run.seen} new {run.new} changed {run.changed} "
            f"gone {run.gone} events {run.events}"
        )

    def write_totals(self, elapsed):
        live = Asset.objects.filter(gone_at__isnull=True)
        untracked = live.filter(tracking=TrackingStatus.UNTRACKED).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo estate ready in {elapsed:.1f}s: {live.count()} live assets, "
                f"{untracked} untracked."
            )
        )
