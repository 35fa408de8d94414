"""Points come from the activity ledger, never typed in (S2).

Which proof earns which behaviour (docs/contracts.md — keep the two in step):

    线索引入 ← lead_introduced
    需求诊断 ← visit_completed with facts.needs_count >= 3
    方案演示 ← visit_completed with facts.is_solution_demo = true
    院长级拜访 ← visit_completed with facts.contact_title in (院长, 副院长)
    回款推动 ← payment_recorded (its rep is the one who pushed the payment)

An activity without a customer scores nothing: every scored action is tied to a customer (S2).
One visit can earn several behaviours; each (activity, behaviour) scores once, under the rule
version in force at the activity's `occurred_at`. Deriving only inserts what is missing and never
touches an existing row, so running it again — incrementally every minute, or over everything
with `manage.py recompute_points` — gives the same ledger of points.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from salesops.models import DEAN_TITLES, Activity, ActivityKind

from .models import Behaviour, Contribution, ContributionRule

SOURCES: dict[str, Q] = {
    Behaviour.LEAD_INTRODUCED: Q(kind=ActivityKind.LEAD_INTRODUCED),
    Behaviour.NEEDS_DIAGNOSIS: Q(kind=ActivityKind.VISIT_COMPLETED, facts__needs_count__gte=3),
    Behaviour.SOLUTION_DEMO: Q(kind=ActivityKind.VISIT_COMPLETED, facts__is_solution_demo=True),
    Behaviour.DEAN_VISIT: Q(kind=ActivityKind.VISIT_COMPLETED, facts__contact_title__in=sorted(map(str, DEAN_TITLES))),
    Behaviour.PAYMENT_PUSH: Q(kind=ActivityKind.PAYMENT_RECORDED),
}
SCORED_KINDS = frozenset({ActivityKind.LEAD_INTRODUCED, ActivityKind.VISIT_COMPLETED, ActivityKind.PAYMENT_RECORDED})
BATCH = 2000


class RuleBook:
    """Every rule version in memory (a handful of rows), answering "which version applied at t"."""

    def __init__(self, rules: list[ContributionRule]) -> None:
        self._by_behaviour: dict[str, list[tuple[datetime, int, int]]] = {}
        for rule in sorted(rules, key=lambda r: (r.behaviour, r.effective_from, r.pk)):
            self._by_behaviour.setdefault(rule.behaviour, []).append((rule.effective_from, rule.pk, rule.points))

    @classmethod
    def load(cls) -> "RuleBook":
        return cls(list(ContributionRule.objects.all()))

    def rule_for(self, behaviour: str, moment: datetime) -> tuple[int, int] | None:
        """(rule id, points) of the latest version that took effect at or before `moment`."""
        versions = self._by_behaviour.get(behaviour, [])
        index = bisect.bisect_right([effective for effective, _, _ in versions], moment)
        if index == 0:
            return None
        _, rule_id, points = versions[index - 1]
        return rule_id, points


@dataclass(frozen=True)
class DerivedRow:
    activity_id: int
    behaviour: str
    rule_id: int
    points: int
    rep_id: int
    team_id: int | None
    customer_id: int
    occurred_at: datetime

    def as_contribution(self) -> Contribution:
        return Contribution(
            activity_id=self.activity_id,
            behaviour=self.behaviour,
            rule_id=self.rule_id,
            points=self.points,
            rep_id=self.rep_id,
            team_id=self.team_id,
            customer_id=self.customer_id,
            occurred_at=self.occurred_at,
        )


def proofs_of(behaviour: str, *, since: datetime | None = None, only_missing: bool = True) -> QuerySet:
    """The activities that prove `behaviour` (optionally only those not yet scored for it)."""
    proofs = Activity.objects.filter(SOURCES[behaviour], customer__isnull=False)
    if since is not None:
        proofs = proofs.filter(occurred_at__gte=since)
    if only_missing:
        proofs = proofs.exclude(Exists(Contribution.objects.filter(activity=OuterRef("pk"), behaviour=behaviour)))
    return proofs


def derived_rows(*, since: datetime | None = None, only_missing: bool = True, rules: RuleBook | None = None) -> Iterator[DerivedRow]:
    """What the ledger says the points are, behaviour by behaviour, in activity order."""
    rules = rules or RuleBook.load()
    for behaviour in Behaviour.values:
        proofs = (
            proofs_of(behaviour, since=since, only_missing=only_missing)
            .order_by("pk")
            .values_list("pk", "rep_id", "team_id", "customer_id", "occurred_at")
        )
        for activity_id, rep_id, team_id, customer_id, occurred_at in proofs:
            rule = rules.rule_for(behaviour, occurred_at)
            if rule is None:  # no version in force yet at that time: nothing to earn
                continue
            rule_id, points = rule
            yield DerivedRow(activity_id, behaviour, rule_id, points, rep_id, team_id, customer_id, occurred_at)


def points_derive(*, since: datetime | None = None) -> int:
    """Insert the contributions the ledger proves and the table lacks. Safe to run concurrently:
    the unique (activity, behaviour) constraint makes a racing duplicate a no-op. Returns the
    number of rows it tried to add."""
    batch: list[Contribution] = []
    added = 0
    # Read everything first: SQLite cannot insert while a read cursor over the same table is open.
    for row in list(derived_rows(since=since)):
        batch.append(row.as_contribution())
        if len(batch) >= BATCH:
            added += _insert(batch)
            batch = []
    if batch:
        added += _insert(batch)
    return added


def _insert(batch: list[Contribution]) -> int:
    with transaction.atomic():
        Contribution.objects.bulk_create(batch, ignore_conflicts=True)
    return len(batch)


def ledger_differences(*, since: datetime | None = None) -> dict[str, list]:
    """Compare the stored points with a from-scratch derivation: `missing` rows the ledger proves
    but the table lacks, `different` rows whose stored values disagree, `orphaned` stored rows no
    proof supports any more. All three empty means the ledger of points is exactly reproducible."""
    expected = {(row.activity_id, row.behaviour): row for row in derived_rows(since=since, only_missing=False)}
    stored_rows = Contribution.objects.all()
    if since is not None:
        stored_rows = stored_rows.filter(occurred_at__gte=since)
    stored = {}
    for values in stored_rows.values_list(
        "activity_id", "behaviour", "rule_id", "points", "rep_id", "team_id", "customer_id", "occurred_at"
    ):
        row = DerivedRow(*values)
        stored[(row.activity_id, row.behaviour)] = row
    return {
        "missing": sorted(key for key in expected if key not in stored),
        "different": sorted(key for key, row in expected.items() if key in stored and stored[key] != row),
        "orphaned": sorted(key for key in stored if key not in expected),
    }
