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

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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


@dataclass(slots=True)
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
    return _row(candidate, grade_fit, line_fit, workload_fit, score)


def _row(candidate: Candidate, grade_fit: float, line_fit: float, workload_fit: float, score: float) -> dict:
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
    question only for tied reps (a database query on the live path, a dict in simulation).
    The loop computes plain numbers (same formula as `breakdown`); rows are built for the top only."""
    started = time.perf_counter_ns()
    off_duty = at_capacity = 0
    w_grade, w_line, w_load = weights.grade, weights.line, weights.workload
    scale = 100.0 / (weights.total or 1)
    grade, line_id = facts.grade, facts.line_id
    scored: list[tuple[float, int, Candidate, float, float, float]] = []
    for candidate in candidates:
        if not candidate.on_duty:
            off_duty += 1
            continue
        capacity, open_count = candidate.capacity, candidate.open_count
        if open_count >= capacity:
            at_capacity += 1
            continue
        grade_fit = UNKNOWN_FIT if not grade or not candidate.grades else (1.0 if grade in candidate.grades else 0.0)
        line_fit = UNKNOWN_FIT if line_id is None or not candidate.line_ids else (1.0 if line_id in candidate.line_ids else 0.0)
        workload_fit = 1.0 - open_count / capacity
        score = round(scale * (w_grade * grade_fit + w_line * line_fit + w_load * workload_fit), 4)
        scored.append((score, candidate.user_id, candidate, grade_fit, line_fit, workload_fit))
    skipped = {"off_duty": off_duty, "at_capacity": at_capacity}
    if not scored:
        return Decision(None, [], skipped, 0, 0, (time.perf_counter_ns() - started) // 1000)
    best = max(entry[0] for entry in scored)
    tied = [entry for entry in scored if entry[0] == best]
    if len(tied) > 1:
        last = last_assigned([entry[1] for entry in tied])
        # Never-assigned reps first, then the longest wait, then the lower id: a fair rotation.
        tied.sort(key=lambda entry: (last.get(entry[1]) is not None, last.get(entry[1]) or 0, entry[1]))
    chosen_id = tied[0][1]
    top = heapq.nsmallest(STORED_CANDIDATES, scored, key=lambda entry: (-entry[0], entry[1] != chosen_id, entry[1]))
    ranked = []
    for rank, (score, _user_id, candidate, grade_fit, line_fit, workload_fit) in enumerate(top, start=1):
        row = _row(candidate, grade_fit, line_fit, workload_fit, score)
        row["rank"] = rank
        ranked.append(row)
    return Decision(
        chosen_id=chosen_id,
        ranked=ranked,
        skipped=skipped,
        eligible_count=len(scored),
        tie_size=len(tied),
        duration_us=(time.perf_counter_ns() - started) // 1000,
        chosen_breakdown=ranked[0],
    )


# --- Loading the live picture from the database ------------------------------------------------


def _name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


# The roster (who is a rep, on duty, grades, lines, capacity) changes rarely and is read on every
# intake, so it is kept in memory: dropped at once in this process when a Rep, User or product-line
# assignment is saved (signals in apps.py), and across processes through the shared cache's
# version counter (Redis in production) — with a short TTL as the backstop for per-process caches.
# Workloads are never cached: they are read fresh inside the assignment lock.
ROSTER_TTL_SECONDS = 10.0
ROSTER_VERSION_KEY = "leads:routing-version"  # also versions NotifyChannel (services.channels_for)
_roster: dict = {"version": None, "expires": 0.0, "rows": ()}
_channels: dict = {"version": None, "expires": 0.0, "rows": ()}


def cached_routing(store: dict, load: Callable[[], tuple]) -> tuple:
    """`load()` once per routing version (and at most every ROSTER_TTL_SECONDS)."""
    version = cache.get(ROSTER_VERSION_KEY, 0)
    now = time.monotonic()
    if store["version"] != version or store["expires"] <= now:
        store.update(rows=load(), version=version, expires=now + ROSTER_TTL_SECONDS)
    return store["rows"]


def invalidate_roster(**_signal_kwargs) -> None:
    _roster["expires"] = 0.0
    _channels["expires"] = 0.0
    try:
        cache.incr(ROSTER_VERSION_KEY)
    except ValueError:
        cache.set(ROSTER_VERSION_KEY, 1, None)


def _roster_rows() -> tuple:
    return cached_routing(_roster, _load_roster)


def _load_roster() -> tuple:
    rows = Rep.objects.filter(role=Role.REP, user__is_active=True).values_list(
        "pk", "user_id", "user__first_name", "user__last_name", "user__username", "team_id", "grades_served", "capacity", "on_duty"
    )
    lines: dict[int, set[int]] = {}
    for rep_id, line_id in Rep.product_lines.through.objects.filter(rep__role=Role.REP).values_list("rep_id", "productline_id"):
        lines.setdefault(rep_id, set()).add(line_id)
    return tuple(
        (user_id, _name(first, last, username), team_id, frozenset(grades or ()), frozenset(lines.get(rep_id, ())), capacity, on_duty)
        for rep_id, user_id, first, last, username, team_id, grades, capacity, on_duty in rows
    )


def load_candidates() -> list[Candidate]:
    """Every active rep (role rep) with grades, product lines, capacity, duty and open workload:
    the roster from memory (see above) and one query for the workloads, whatever the number of reps."""
    loads = open_loads()
    return [
        Candidate(user_id, name, team_id, grades, line_ids, capacity, on_duty, loads.get(user_id, 0))
        for user_id, name, team_id, grades, line_ids, capacity, on_duty in _roster_rows()
    ]


def open_loads(exclude_lead_ids: Iterable[int] = ()) -> dict[int, int]:
    """{user id: open leads} — the 待办数 the engine balances (index lead_open_load). Plain SQL:
    it runs on every intake and returns one row per rep, so the ORM's per-row converters show."""
    table = connection.ops.quote_name(Lead._meta.db_table)
    statuses = [str(status) for status in OPEN_LEAD_STATUSES]
    exclude = [int(pk) for pk in exclude_lead_ids]
    sql = (
        f"SELECT assignee_id, COUNT(*) FROM {table} WHERE status IN ({', '.join(['%s'] * len(statuses))})"
        " AND assignee_id IS NOT NULL"
    )
    if exclude:
        sql += f" AND id NOT IN ({', '.join(['%s'] * len(exclude))})"
    with connection.cursor() as cursor:
        cursor.execute(sql + " GROUP BY assignee_id", [*statuses, *exclude])
        return dict(cursor.fetchall())


def last_assigned_from_db(user_ids: list[int]) -> dict[int, datetime | None]:
    """Each tied rep's latest assignment: a correlated MAX per rep, which both SQLite and
    PostgreSQL answer with one seek into index lead_assignee_recent (plain SQL: it runs on most
    intakes, and the ORM's Subquery costs more to build than to run)."""
    from django.contrib.auth import get_user_model

    leads = connection.ops.quote_name(Lead._meta.db_table)
    users = connection.ops.quote_name(get_user_model()._meta.db_table)
    ids = [int(user_id) for user_id in user_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.id, (SELECT MAX(l.assigned_at) FROM {leads} l WHERE l.assignee_id = u.id) FROM {users} u"
            f" WHERE u.id IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        rows = cursor.fetchall()
    # SQLite hands back UTC as ISO text, PostgreSQL an aware datetime: callers get the latter.
    return {user_id: _aware(value) for user_id, value in rows}


def _aware(value) -> datetime | None:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, dt_timezone.utc)
    return value
