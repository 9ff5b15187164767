"""Keeping Finding rows and an asset's roll-up flags in step with the rules' verdicts.

Used by the ingest path for assets whose facts changed, and by the daily re-evaluation for
verdicts that move with the calendar alone (stale functions, end-of-life dates).
"""

from collections import defaultdict

from .models import Finding, FindingCategory, FindingStatus
from .rules import EOL_RULES, Verdict


def rollup(verdicts: list[Verdict]) -> dict:
    """The asset columns that summarise its open findings."""
    return {
        "exposed": any(v.rule.category == FindingCategory.EXPOSURE for v in verdicts),
        "eol": any(v.rule.slug in EOL_RULES for v in verdicts),
        "max_severity": max((v.rule.severity for v in verdicts), default=None),
    }


def resolve_findings(findings, now) -> int:
    return findings.filter(status=FindingStatus.OPEN).update(
        status=FindingStatus.RESOLVED, resolved_at=now
    )


def sync_findings(assets, verdicts: dict[str, list[Verdict]], now, *, reevaluated) -> None:
    """Open findings for rules that now fire on ``assets``, update changed details, resolve
    those that no longer fire. ``reevaluated`` are the ids that may have open findings already
    (new assets have none), ``verdicts`` are keyed by asset key."""
    open_findings = defaultdict(dict)
    for finding in Finding.objects.filter(asset_id__in=reevaluated, status=FindingStatus.OPEN):
        open_findings[finding.asset_id][finding.rule] = finding
    to_open, to_update, to_resolve = [], [], []
    for asset in assets:
        current = open_findings.get(asset.pk, {})
        firing = {v.rule.slug: v for v in verdicts[asset.key]}
        for slug, verdict in firing.items():
            finding = current.get(slug)
            if finding is None:
                to_open.append(
                    Finding(
                        asset_id=asset.pk,
                        rule=slug,
                        category=verdict.rule.category,
                        severity=verdict.rule.severity,
                        detail=verdict.detail,
                        opened_at=now,
                    )
                )
            elif finding.detail != verdict.detail or finding.severity != verdict.rule.severity:
                finding.detail, finding.severity = verdict.detail, verdict.rule.severity
                to_update.append(finding)
        to_resolve.extend(f.pk for slug, f in current.items() if slug not in firing)
    Finding.objects.bulk_create(to_open)
    Finding.objects.bulk_update(to_update, ["detail", "severity"])
    resolve_findings(Finding.objects.filter(pk__in=to_resolve), now)
