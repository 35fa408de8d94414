"""The assignment engine (L4) and its replay (L8).

`decide()` is a pure function: candidates + lead facts + weights (+ when each rep last got a lead)
→ a decision with the ranked breakdown. The live path (`services.lead_intake`) feeds it from the
database inside the assignment lock; the simulation feeds it the same way for the last N leads, so
"what the draft would have done" is computed by exactly the code that will run after publishing.

Score per eligible rep, each fit in [0, 1], weights from the rules version:
  grade fit     1 if the rep serves the hospital's grade, 0 if not, ½ when either side is unknown
  line fit      1 if the rep carries the product's line, 0 if not, ½ when either side is unknown
  workload fit  1 − open leads / capacity
  score = 100 × (w_grade·grade + w_line·line + w_load·workload) / (w_grade + w_line + w_load)
Off-duty reps and reps at capacity are skipped (and counted). Equal best scores are broken by
round robin: the tied rep whose last assignment is oldest (never assigned first), then by id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, OuterRef, Subquery

from salesops.models import Rep, Role

from .models import OPEN_LEAD_STATUSES, Lead

STORED_CANDIDATES = 10  # the top of the ranking kept on each decision
UNKNOWN_FIT = 0.5


@dataclass(frozen=True)
class Weights:
    grade: int
    line: int
    workload: int

    @classmethod
    def of(cls, rules) -> "Weights":
        return cls(rules.weight_grade, rules.weight_product_line, rules.weight_workload)

    @property
    def total(self) -> int:
        return self.grade + self.line + self.workload


@dataclass
class Candidate:
    user_id: int
    name: str
    team_id: int | None
    grades: frozenset[str]
    line_ids: frozenset[int]
    capacity: int
    on_duty: bool
    open_count: int = 0


@dataclass(frozen=True)
class LeadFacts:
    grade: str = ""  # "" when unknown
    line_id: int | None = None

    @classmethod
    def of(cls, lead: Lead) -> "LeadFacts":
        line_id = lead.product.line_id if lead.product_id and lead.product else None
        return cls(lead.hospital_grade or "", line_id)


@dataclass
class Decision:
    chosen_id: int | None
    ranked: list[dict] = field(default_factory=list)  # the top STORED_CANDIDATES breakdowns
    skipped: dict[str, int] = field(default_factory=dict)
    eligible_count: int = 0
    tie_size: int = 0
    duration_us: int = 0
    chosen_breakdown: dict | None = None


def _fit(known_side: bool, other_side: bool, match: bool) -> float:
    if not known_side or not other_side:
        return UNKNOWN_FIT
    return 1.0 if match else 0.0


def breakdown(candidate: Candidate, facts: LeadFacts, weights: Weights) -> dict:
    grade_fit = _fit(bool(facts.grade), bool(candidate.grades), facts.grade in candidate.grades)
    line_fit = _fit(facts.line_id is not None, bool(candidate.line_ids), facts.line_id in candidate.line_ids)
    workload_fit = max(0.0, 1.0 - candidate.open_count / candidate.capacity) if candidate.capacity else 0.0
    total = weights.total or 1
    score = 100.0 * (weights.grade * grade_fit + weights.line * line_fit + weights.workload * workload_fit) / total
    return {
        "user_id": candidate.user_id,
        "name": candidate.name,
        "team_id": candidate.team_id,
        "grade_fit": grade_fit,
        "line_fit": line_fit,
        "workload_fit": round(workload_fit, 4),
        "open": candidate.open_count,
        "capacity": candidate.capacity,
        # Rounded so that float noise never decides a tie.
        "score": round(score, 4),
    }


def decide(
    candidates: Iterable[Candidate],
    facts: LeadFacts,
    weights: Weights,
    last_assigned: Callable[[list[int]], dict[int, datetime | None]],
) -> Decision:
    """Rank eligible candidates and pick one. `last_assigned(user_ids)` answers the round-robin
    question only for tied reps (a database query on the live path, a dict in simulation)."""
    started = time.perf_counter_ns()
    skipped = {"off_duty": 0, "at_capacity": 0}
    scored = []
    for candidate in candidates:
        if not candidate.on_duty:
            skipped["off_duty"] += 1
            continue
        if candidate.open_count >= candidate.capacity:
            skipped["at_capacity"] += 1
            continue
        scored.append(breakdown(candidate, facts, weights))
    if not scored:
        return Decision(None, [], skipped, 0, 0, (time.perf_counter_ns() - started) // 1000)
    best = max(row["score"] for row in scored)
    tied = [row for row in scored if row["score"] == best]
    if len(tied) > 1:
        last = last_assigned([row["user_id"] for row in tied])
        # Never-assigned reps first, then the longest wait, then the lower id: a fair rotation.
        tied.sort(key=lambda row: (last.get(row["user_id"]) is not None, last.get(row["user_id"]) or 0, row["user_id"]))
    chosen = tied[0]
    ranked = sorted(scored, key=lambda row: (-row["score"], row["user_id"] != chosen["user_id"], row["user_id"]))
    top = ranked[:STORED_CANDIDATES]
    for rank, row in enumerate(top, start=1):
        row["rank"] = rank
    return Decision(
        chosen_id=chosen["user_id"],
        ranked=top,
        skipped=skipped,
        eligible_count=len(scored),
        tie_size=len(tied),
        duration_us=(time.perf_counter_ns() - started) // 1000,
        chosen_breakdown=chosen,
    )


# --- Loading the live picture from the database ------------------------------------------------


def _name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def load_candidates() -> list[Candidate]:
    """Every active rep (role rep) with grades, product lines, capacity, duty and open workload:
    three queries whatever the number of reps, and no model instances (500 reps in ~1 ms)."""
    rows = Rep.objects.filter(role=Role.REP, user__is_active=True).values_list(
        "pk", "user_id", "user__first_name", "user__last_name", "user__username", "team_id", "grades_served", "capacity", "on_duty"
    )
    lines: dict[int, set[int]] = {}
    for rep_id, line_id in Rep.product_lines.through.objects.filter(rep__role=Role.REP).values_list("rep_id", "productline_id"):
        lines.setdefault(rep_id, set()).add(line_id)
    loads = open_loads()
    return [
        Candidate(
            user_id=user_id,
            name=_name(first, last, username),
            team_id=team_id,
            grades=frozenset(grades or ()),
            line_ids=frozenset(lines.get(rep_id, ())),
            capacity=capacity,
            on_duty=on_duty,
            open_count=loads.get(user_id, 0),
        )
        for rep_id, user_id, first, last, username, team_id, grades, capacity, on_duty in rows
    ]


def open_loads(exclude_lead_ids: Iterable[int] = ()) -> dict[int, int]:
    """{user id: open leads} — the 待办数 the engine balances (index lead_open_load)."""
    queryset = Lead.objects.filter(status__in=OPEN_LEAD_STATUSES, assignee__isnull=False)
    exclude = list(exclude_lead_ids)
    if exclude:
        queryset = queryset.exclude(pk__in=exclude)
    return dict(queryset.values("assignee").annotate(n=Count("pk")).values_list("assignee", "n"))


def last_assigned_from_db(user_ids: list[int]) -> dict[int, datetime | None]:
    """Each tied rep's latest assignment: one index seek per rep (index lead_assignee_recent)."""
    from django.contrib.auth import get_user_model

    latest = Lead.objects.filter(assignee=OuterRef("pk"), assigned_at__isnull=False).order_by("-assigned_at").values("assigned_at")[:1]
    return dict(
        get_user_model().objects.filter(pk__in=user_ids).annotate(last=Subquery(latest)).values_list("pk", "last")
    )
