"""Points come from the activity ledger, never typed in (S2).

Which proof earns which behaviour (docs/contracts.md — keep the two in step):

    线索引入 ← lead_introduced
    需求诊断 ← visit_completed with facts.needs_count >= 3
    方案演示 ← visit_completed with facts.is_solution_demo = true
    院长级拜访 ← visit_completed with facts.contact_title in (院长, 副院长)
    回款推动 ← payment_recorded with facts.basis "bank" or "finance" (lead-to-cash writes one per
              receivable instalment, once the money is confirmed against a bank row or approved by
              finance and reaches the minimum share; its rep is the pusher that finance or a
              supervisor named; facts.deal_id is the deal the money went to). A payment_recorded
              without that basis (an unverified, self-declared payment) earns nothing.

Trust rules (T2, T4, T5):
- a visit whose evidence carries an authenticity warning (facts.flagged) scores *held*: it waits
  for a supervisor's review and counts only once accepted;
- a repeat inside a behaviour's cooldown (same customer, or same contact for 院长级拜访) is kept
  as a 0-point row that says why (ScoringSettings);
- reversals are negative rows linked to what they reverse: a payment_reversed activity (facts.
  reverses_activity_id names the payment_recorded it cancels), a lead
  closed as junk/duplicate within the configured period, evidence rejected in review.

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

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from leads.cash.models import Deal
from salesops.models import DEAN_TITLES, Activity, ActivityKind

from .models import (
    Behaviour,
    Contribution,
    ContributionReason,
    ContributionReview,
    ContributionRule,
    ReviewStatus,
    ScoringSettings,
)

SOURCES: dict[str, Q] = {
    Behaviour.LEAD_INTRODUCED: Q(kind=ActivityKind.LEAD_INTRODUCED),
    Behaviour.NEEDS_DIAGNOSIS: Q(kind=ActivityKind.VISIT_COMPLETED, facts__needs_count__gte=3),
    Behaviour.SOLUTION_DEMO: Q(kind=ActivityKind.VISIT_COMPLETED, facts__is_solution_demo=True),
    Behaviour.DEAN_VISIT: Q(kind=ActivityKind.VISIT_COMPLETED, facts__contact_title__in=sorted(map(str, DEAN_TITLES))),
    Behaviour.PAYMENT_PUSH: Q(kind=ActivityKind.PAYMENT_RECORDED, facts__basis__in=["bank", "finance"]),
}
SCORED_KINDS = frozenset({ActivityKind.LEAD_INTRODUCED, ActivityKind.VISIT_COMPLETED, ActivityKind.PAYMENT_RECORDED})
# Behaviours proven by visit evidence: held while that evidence carries a warning (T2).
EVIDENCE_BEHAVIOURS = frozenset({Behaviour.NEEDS_DIAGNOSIS, Behaviour.SOLUTION_DEMO, Behaviour.DEAN_VISIT})
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
    held: bool = False
    reason: str = ""
    note: str = ""
    contact_id_key: int | None = None
    deal_id: int | None = None

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
            held=self.held,
            reason=self.reason,
            note=self.note,
            contact_id_key=self.contact_id_key,
            deal_id=self.deal_id,
        )


COMPARED_FIELDS = (
    "activity_id", "behaviour", "rule_id", "points", "rep_id", "team_id", "customer_id", "occurred_at",
    "held", "reason", "note", "contact_id_key", "deal_id",
)  # fmt: skip


def proofs_of(
    behaviour: str, *, since: datetime | None = None, only_missing: bool = True, after_id: int | None = None
) -> QuerySet:
    """The activities that prove `behaviour` (optionally only those not yet scored for it, or only
    those recorded after the sweep's cursor `after_id`)."""
    proofs = Activity.objects.filter(SOURCES[behaviour], customer__isnull=False)
    if since is not None:
        proofs = proofs.filter(occurred_at__gte=since)
    if after_id is not None:
        proofs = proofs.filter(pk__gt=after_id)
    if only_missing:
        proofs = proofs.exclude(
            Exists(Contribution.objects.filter(activity=OuterRef("pk"), behaviour=behaviour, reverses__isnull=True))
        )
    return proofs


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "", False) else None
    except (TypeError, ValueError):
        return None


class CooldownBook:
    """Which earlier counted action of the same behaviour and key (customer, or contact for
    院长级拜访) falls inside the cooldown before a new one (T2). Reads the stored rows once per
    behaviour, then remembers what this run adds."""

    def __init__(self, behaviour: str, days: int, since: datetime | None, stored: bool) -> None:
        self.behaviour, self.window = behaviour, timedelta(days=days)
        self.times: dict[int, list[datetime]] = {}
        if days and stored:
            rows = Contribution.objects.filter(behaviour=behaviour, reverses__isnull=True, reason="")
            if since is not None:
                rows = rows.filter(occurred_at__gte=since - self.window)
            for key, moment in rows.values_list(self._key_field(), "occurred_at"):
                if key is not None:
                    self.times.setdefault(key, []).append(moment)
            for moments in self.times.values():
                moments.sort()

    def _key_field(self) -> str:
        return "contact_id_key" if self.behaviour == Behaviour.DEAN_VISIT else "customer_id"

    def key_of(self, customer_id: int, contact_id: int | None) -> int | None:
        return contact_id if self.behaviour == Behaviour.DEAN_VISIT else customer_id

    def earlier_within(self, key: int | None, moment: datetime) -> datetime | None:
        if not self.window or key is None:
            return None
        for other in self.times.get(key, []):
            if abs(moment - other) < self.window:
                return other
        return None

    def remember(self, key: int | None, moment: datetime) -> None:
        if key is not None:
            bisect.insort(self.times.setdefault(key, []), moment)


def _cap_note(behaviour: str, days: int, earlier: datetime) -> str:
    # Data, not prose: the statement words it in the reader's language (reason label + this).
    return f"{days}|{timezone.localtime(earlier):%Y-%m-%d %H:%M}"


def derived_rows(
    *, since: datetime | None = None, only_missing: bool = True, rules: RuleBook | None = None, after_id: int | None = None
) -> Iterator[DerivedRow]:
    """What the ledger says the points are, behaviour by behaviour, in time order."""
    rules = rules or RuleBook.load()
    settings_row = ScoringSettings.load()
    known_deals = None
    for behaviour in Behaviour.values:
        days = settings_row.cooldown_days(behaviour)
        cooldown = CooldownBook(behaviour, days, since, stored=only_missing)
        proofs = (
            proofs_of(behaviour, since=None if after_id is not None else since, only_missing=only_missing, after_id=after_id)
            .order_by("occurred_at", "pk")
            .values_list("pk", "rep_id", "team_id", "customer_id", "occurred_at", "facts")
        )
        for activity_id, rep_id, team_id, customer_id, occurred_at, facts in proofs:
            rule = rules.rule_for(behaviour, occurred_at)
            if rule is None:  # no version in force yet at that time: nothing to earn
                continue
            rule_id, points = rule
            facts = facts if isinstance(facts, dict) else {}
            contact_id = _int_or_none(facts.get("contact_id"))
            deal_id = None
            if behaviour == Behaviour.PAYMENT_PUSH:
                if known_deals is None:
                    known_deals = set(Deal.objects.values_list("pk", flat=True))
                deal_id = _int_or_none(facts.get("deal_id"))
                deal_id = deal_id if deal_id in known_deals else None
            held = behaviour in EVIDENCE_BEHAVIOURS and facts.get("flagged") is True
            reason = note = ""
            key = cooldown.key_of(customer_id, contact_id)
            earlier = cooldown.earlier_within(key, occurred_at)
            if earlier is not None:
                points, held, reason, note = 0, False, ContributionReason.CAPPED, _cap_note(behaviour, days, earlier)
            else:
                cooldown.remember(key, occurred_at)
            yield DerivedRow(
                activity_id, behaviour, rule_id, points, rep_id, team_id, customer_id, occurred_at,
                held, reason, note, contact_id if behaviour == Behaviour.DEAN_VISIT else None, deal_id,
            )  # fmt: skip


# K4: the every-minute sweep reads from its cursor on. An activity id is taken when the row is
# inserted, not when its transaction commits, so a lower id can appear after a higher one: the
# cursor only moves past rows recorded at least this long ago, and rows in this margin are read
# again by the next sweep (deriving is idempotent, so reading twice adds nothing twice).
SETTLE_MARGIN = timedelta(minutes=2)
SWEEP_NAME = "scoring.points"


def points_sweep(now: datetime | None = None) -> int:
    """The incremental sweep (K4): only activities after the cursor, leads closed and reviews
    decided since the last sweep. An idle sweep is a handful of indexed probes and writes nothing."""
    from leads.models import Lead
    from .models import SweepMark

    now = now or timezone.now()
    mark = SweepMark.latest(SWEEP_NAME)
    if mark is None:  # the first sweep ever reads everything once
        added = points_derive()
        settled = Activity.objects.filter(recorded_at__lte=now - SETTLE_MARGIN).order_by("-pk").values_list("pk", flat=True).first()
        SweepMark.objects.create(name=SWEEP_NAME, position=settled or 0, started_at=now)
        return added
    changed_since = mark.started_at - SETTLE_MARGIN
    new = list(Activity.objects.filter(pk__gt=mark.position).order_by("pk").values_list("pk", "recorded_at"))
    # No ORDER BY (Lead's default ordering would walk the created_at index over every lead).
    closed_leads = [str(pk) for pk in Lead.objects.filter(closed_at__gte=changed_since).order_by().values_list("pk", flat=True)]
    reviews_decided = ContributionReview.objects.filter(decided_at__gte=changed_since).exists()
    if not (new or closed_leads or reviews_decided):
        return 0
    added = points_derive(after_id=mark.position, changed_since=changed_since, closed_lead_ids=closed_leads)
    position = mark.position
    for pk, recorded_at in new:
        if recorded_at > now - SETTLE_MARGIN:
            break
        position = pk
    SweepMark.objects.create(name=SWEEP_NAME, position=position, started_at=now)
    return added


def points_derive(
    *, since: datetime | None = None, after_id: int | None = None, changed_since: datetime | None = None,
    closed_lead_ids: list[str] | None = None,
) -> int:
    """Insert the contributions the ledger proves and the table lacks, then the reversals that are
    due. Safe to run concurrently: unique constraints make a racing duplicate a no-op. Returns the
    number of rows it tried to add. With `after_id` (the sweep's cursor) only what changed since
    is read: activities after it, leads closed and reviews decided since `changed_since`."""
    batch: list[Contribution] = []
    added = 0
    # Read everything first: SQLite cannot insert while a read cursor over the same table is open.
    for row in list(derived_rows(since=since, after_id=after_id)):
        batch.append(row.as_contribution())
        if len(batch) >= BATCH:
            added += insert_contributions(batch)
            batch = []
    if batch:
        added += insert_contributions(batch)
    reviews_open(after_id=after_id)
    added += insert_contributions(reversals_due(after_id=after_id, changed_since=changed_since, closed_lead_ids=closed_lead_ids))
    return added


def insert_contributions(batch: list[Contribution]) -> int:
    if not batch:
        return 0
    with transaction.atomic():
        Contribution.objects.bulk_create(batch, ignore_conflicts=True)
    return len(batch)


def reviews_open(*, after_id: int | None = None) -> int:
    """A pending review for every held contribution that has none yet (idempotent)."""
    from simple_history.utils import bulk_create_with_history

    held = Contribution.objects.filter(held=True, review__isnull=True)
    if after_id is not None:
        held = held.filter(activity_id__gt=after_id)
    held = list(held.values_list("pk", "activity__facts"))
    reviews = [
        ContributionReview(contribution_id=pk, flags=list((facts or {}).get("flags") or []))
        for pk, facts in held
    ]
    if reviews:
        with transaction.atomic():
            bulk_create_with_history(reviews, ContributionReview, ignore_conflicts=True)
    return len(reviews)


def _reversal(original: Contribution, *, activity_id: int, reason: str, note: str, at: datetime) -> Contribution:
    return Contribution(
        activity_id=activity_id,
        behaviour=original.behaviour,
        rule_id=original.rule_id,
        points=-original.points,
        rep_id=original.rep_id,
        team_id=original.team_id,
        customer_id=original.customer_id,
        occurred_at=at,
        reason=reason,
        note=note[:300],
        reverses=original,
        contact_id_key=original.contact_id_key,
        deal_id=original.deal_id,
    )


def _unreversed() -> QuerySet:
    return Contribution.objects.filter(reverses__isnull=True, points__gt=0, reversal__isnull=True)


def reversals_due(
    *, after_id: int | None = None, changed_since: datetime | None = None, closed_lead_ids: list[str] | None = None
) -> list[Contribution]:
    """Counter-entries the ledger and the decisions call for and the table lacks (T5). Each
    original is reversed at most once (`reverses` is unique), so this is idempotent. With
    `after_id` (K4) only the causes that are new since the last sweep are read."""
    rows: list[Contribution] = []
    # 1. A payment counter-entry written by lead-to-cash reverses the 回款推动 of its original.
    cause_rows = Activity.objects.filter(kind=ActivityKind.PAYMENT_REVERSED)
    if after_id is not None:
        cause_rows = cause_rows.filter(pk__gt=after_id)
    causes = (
        cause_rows
        .exclude(Exists(Contribution.objects.filter(activity=OuterRef("pk"), reverses__isnull=False)))
        .values_list("pk", "occurred_at", "facts")
    )
    wanted = {}
    for pk, occurred_at, facts in causes:
        original_id = _int_or_none((facts or {}).get("reverses_activity_id"))
        if original_id is not None:
            wanted[original_id] = (pk, occurred_at, str((facts or {}).get("reason", ""))[:300])
    if wanted:
        for original in _unreversed().filter(behaviour=Behaviour.PAYMENT_PUSH, activity_id__in=list(wanted)):
            cause_id, at, note = wanted[original.activity_id]
            rows.append(_reversal(original, activity_id=cause_id, reason=ContributionReason.PAYMENT_REVERSED, note=note, at=at))
    # 2. A lead closed as junk or duplicate soon after it was introduced (its points scored now, or
    # the lead closed now).
    rows += _junk_lead_reversals(after_id=after_id, closed_lead_ids=closed_lead_ids)
    # 3. Evidence rejected in review.
    rejected = _unreversed().filter(review__status=ReviewStatus.REJECTED).select_related("review")
    if after_id is not None:
        rejected = rejected.filter(review__decided_at__gte=changed_since)
    for original in rejected:
        note = original.review.reason
        rows.append(
            _reversal(original, activity_id=original.activity_id, reason=ContributionReason.EVIDENCE_REJECTED, note=note, at=original.review.decided_at)
        )
    return rows


def _junk_lead_reversals(*, after_id: int | None = None, closed_lead_ids: list[str] | None = None) -> list[Contribution]:
    from django.contrib.contenttypes.models import ContentType

    from leads.models import Lead, LeadStatus

    settings_row = ScoringSettings.load()
    keywords = settings_row.junk_keywords()
    if not keywords:
        return []
    lead_type = ContentType.objects.get_for_model(Lead)
    candidates = _unreversed().filter(behaviour=Behaviour.LEAD_INTRODUCED, activity__subject_type=lead_type)
    if after_id is not None:
        candidates = candidates.filter(Q(activity_id__gt=after_id) | Q(activity__subject_id__in=closed_lead_ids or []))
    candidates = list(candidates.values_list("pk", "activity__subject_id", "occurred_at"))
    if not candidates:
        return []
    lead_ids = {int(subject_id) for _pk, subject_id, _at in candidates if str(subject_id).isdigit()}
    closed = {
        lead.pk: lead
        for lead in Lead.objects.filter(pk__in=lead_ids, status=LeadStatus.CLOSED, closed_at__isnull=False).only(
            "pk", "closed_at", "close_reason"
        )
    }
    window = timedelta(days=settings_row.junk_lead_reversal_days)
    due = []
    for pk, subject_id, occurred_at in candidates:
        lead = closed.get(int(subject_id)) if str(subject_id).isdigit() else None
        if lead is None or lead.closed_at - occurred_at > window:
            continue
        if any(word in (lead.close_reason or "").lower() for word in keywords):
            due.append((pk, lead))
    originals = Contribution.objects.in_bulk([pk for pk, _lead in due])
    return [
        _reversal(
            originals[pk],
            activity_id=originals[pk].activity_id,
            reason=ContributionReason.JUNK_LEAD,
            note=lead.close_reason,
            at=lead.closed_at,
        )
        for pk, lead in due
    ]


def ledger_differences(*, since: datetime | None = None) -> dict[str, list]:
    """Compare the stored points with a from-scratch derivation: `missing` rows the ledger proves
    but the table lacks, `different` rows whose stored values disagree, `orphaned` stored rows no
    proof supports any more, `reversals_missing` counter-entries that are due and absent. All empty
    means the ledger of points is exactly reproducible."""
    expected = {(row.activity_id, row.behaviour): row for row in derived_rows(since=since, only_missing=False)}
    stored_rows = Contribution.objects.filter(reverses__isnull=True)
    if since is not None:
        stored_rows = stored_rows.filter(occurred_at__gte=since)
    stored = {}
    for values in stored_rows.values_list(*COMPARED_FIELDS):
        row = DerivedRow(*values)
        stored[(row.activity_id, row.behaviour)] = row
    return {
        "missing": sorted(key for key in expected if key not in stored),
        "different": sorted(key for key, row in expected.items() if key in stored and stored[key] != row),
        "orphaned": sorted(key for key in stored if key not in expected),
        "reversals_missing": sorted(row.reverses_id for row in reversals_due()),
    }
