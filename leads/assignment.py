"""The assignment engine (L4, L9–L12) and its replay (L8).

`decide()` is a pure function: candidates + lead facts + rules (+ when each rep last got a lead)
→ a decision with the ranked breakdown. The live path (`decide_lead`, called by
`services.lead_intake`) feeds it from the database inside the assignment lock; the simulation feeds
it the same way for past leads (with territories and availability as they were), so "what the
draft would have done" is computed by exactly the code that will run after publishing.

Who can take a lead (L11): an active rep (role rep) on duty, not on leave, within working hours,
below capacity. The others are skipped and counted by reason.

Account ownership first (L9, `rules.owner_policy`): a lead whose customer (or hospital) has an
active owner goes to the owner — `when_eligible`: if the owner can take it, else to the best of the
owner's team, else to the best overall; `always`: to the owner even when off duty, on leave or
full (an active rep); `off`: ownership is ignored.

Otherwise the score, each fit in [0, 1], weights from the rules version:
  grade fit      1 if the rep serves the hospital's grade, 0 if not, ½ when either side is unknown
  line fit       1 if the rep carries the product's line, 0 if not, ½ when either side is unknown
  territory fit  1 if the rep's team owns the hospital's territory, 0 if another team does,
                 ½ when the hospital is in no territory or the rep has no team (L10)
  workload fit   1 − open leads / capacity
  score = 100 × Σ w·fit / Σ w
Fairness (L12): every rep within `rules.tie_band` points of the best score is tied; the tied rep
whose last assignment is oldest wins (never assigned first), then the higher score, then the id.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import timezone as dt_timezone

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from salesops.models import Rep, Role

from .availability import ON_LEAVE, OFF_HOURS, Availability, availability_at
from .models import OPEN_LEAD_STATUSES, DecisionBasis, Lead, OwnerPolicy
from .territories import TerritoryMatch, territory_for

STORED_CANDIDATES = 10  # the top of the ranking kept on each decision
UNKNOWN_FIT = 0.5
OFF_DUTY, AT_CAPACITY = "off_duty", "at_capacity"
SKIP_REASONS = (OFF_DUTY, ON_LEAVE, OFF_HOURS, AT_CAPACITY)
# Scores are rounded to 4 decimals; this keeps float noise out of the band comparison.
BAND_EPSILON = 1e-6


@dataclass(frozen=True)
class Weights:
    """The rules a decision needs: weights, the tie band (score points) and the owner policy."""

    grade: int
    line: int
    workload: int
    territory: int = 0
    band: float = 0.0
    owner_policy: str = OwnerPolicy.OFF

    @classmethod
    def of(cls, rules) -> "Weights":
        return cls(
            rules.weight_grade, rules.weight_product_line, rules.weight_workload, rules.weight_territory,
            float(rules.tie_band), rules.owner_policy,
        )

    @property
    def total(self) -> int:
        return self.grade + self.line + self.workload + self.territory


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
    unavailable: str = ""  # ON_LEAVE / OFF_HOURS at the moment of the decision


@dataclass(frozen=True)
class Owner:
    """The active owner of the lead's customer (or hospital)."""

    user_id: int
    name: str
    team_id: int | None
    source: str  # "customer" | "hospital"

    def as_json(self) -> dict:
        return {"id": self.user_id, "name": self.name, "team_id": self.team_id, "source": self.source}


@dataclass(frozen=True)
class LeadFacts:
    grade: str = ""  # "" when unknown
    line_id: int | None = None
    territory: TerritoryMatch | None = None
    owner: Owner | None = None

    @classmethod
    def of(cls, lead: Lead) -> "LeadFacts":
        """Grade and product line only (no database access beyond the product)."""
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
    basis: str = DecisionBasis.SCORE
    reason: str = ""
    context: dict = field(default_factory=dict)


def _fit(known_side: bool, other_side: bool, match: bool) -> float:
    if not known_side or not other_side:
        return UNKNOWN_FIT
    return 1.0 if match else 0.0


def _territory_fit(territory: TerritoryMatch | None, team_id: int | None) -> float:
    if territory is None or team_id is None:
        return UNKNOWN_FIT
    return 1.0 if team_id in territory.team_ids else 0.0


def breakdown(candidate: Candidate, facts: LeadFacts, weights: Weights) -> dict:
    grade_fit = _fit(bool(facts.grade), bool(candidate.grades), facts.grade in candidate.grades)
    line_fit = _fit(facts.line_id is not None, bool(candidate.line_ids), facts.line_id in candidate.line_ids)
    territory_fit = _territory_fit(facts.territory, candidate.team_id)
    workload_fit = max(0.0, 1.0 - candidate.open_count / candidate.capacity) if candidate.capacity else 0.0
    total = weights.total or 1
    score = 100.0 * (
        weights.grade * grade_fit + weights.line * line_fit + weights.workload * workload_fit + weights.territory * territory_fit
    ) / total
    return _row(candidate, grade_fit, line_fit, territory_fit, workload_fit, round(score, 4))


def _row(candidate: Candidate, grade_fit: float, line_fit: float, territory_fit: float, workload_fit: float, score: float) -> dict:
    return {
        "user_id": candidate.user_id,
        "name": candidate.name,
        "team_id": candidate.team_id,
        "grade_fit": grade_fit,
        "line_fit": line_fit,
        "territory_fit": territory_fit,
        "workload_fit": round(workload_fit, 4),
        "open": candidate.open_count,
        "capacity": candidate.capacity,
        # Rounded so that float noise never decides a tie.
        "score": score,
    }


# (score, user id, candidate, grade fit, line fit, territory fit, workload fit)
Scored = tuple[float, int, Candidate, float, float, float, float]


def _score_all(candidates: Iterable[Candidate], facts: LeadFacts, weights: Weights) -> tuple[list[Scored], dict[str, int], dict[int, Candidate]]:
    """Skip who cannot take a lead (counted by reason), score the rest. Plain numbers in the loop
    (same formula as `breakdown`); rows are built for the top only."""
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    everyone: dict[int, Candidate] = {}
    w_grade, w_line, w_load, w_territory = weights.grade, weights.line, weights.workload, weights.territory
    scale = 100.0 / (weights.total or 1)
    grade, line_id = facts.grade, facts.line_id
    territory_teams = facts.territory.team_ids if facts.territory is not None else None
    scored: list[Scored] = []
    for candidate in candidates:
        everyone[candidate.user_id] = candidate
        if not candidate.on_duty:
            skipped[OFF_DUTY] += 1
            continue
        if candidate.unavailable:
            skipped[candidate.unavailable] += 1
            continue
        capacity, open_count = candidate.capacity, candidate.open_count
        if open_count >= capacity:
            skipped[AT_CAPACITY] += 1
            continue
        grade_fit = UNKNOWN_FIT if not grade or not candidate.grades else (1.0 if grade in candidate.grades else 0.0)
        line_fit = UNKNOWN_FIT if line_id is None or not candidate.line_ids else (1.0 if line_id in candidate.line_ids else 0.0)
        team_id = candidate.team_id
        territory_fit = UNKNOWN_FIT if territory_teams is None or team_id is None else (1.0 if team_id in territory_teams else 0.0)
        workload_fit = 1.0 - open_count / capacity
        score = round(scale * (w_grade * grade_fit + w_line * line_fit + w_load * workload_fit + w_territory * territory_fit), 4)
        scored.append((score, candidate.user_id, candidate, grade_fit, line_fit, territory_fit, workload_fit))
    return scored, skipped, everyone


def _rotate(pool: list[Scored], band: float, last_assigned: Callable[[list[int]], dict]) -> tuple[Scored, int]:
    """L12: everyone within `band` of the best score is tied; the least recently assigned of them
    wins (never assigned first), then the higher score, then the lower id."""
    best = max(entry[0] for entry in pool)
    tied = [entry for entry in pool if entry[0] >= best - band - BAND_EPSILON]
    if len(tied) > 1:
        last = last_assigned([entry[1] for entry in tied])
        tied.sort(key=lambda entry: (last.get(entry[1]) is not None, last.get(entry[1]) or 0, -entry[0], entry[1]))
    return tied[0], len(tied)


def _skip_reason(candidate: Candidate) -> str:
    if not candidate.on_duty:
        return OFF_DUTY
    if candidate.unavailable:
        return candidate.unavailable
    return AT_CAPACITY if candidate.open_count >= candidate.capacity else ""


SKIP_LABELS = {OFF_DUTY: "不在岗", ON_LEAVE: "休假", OFF_HOURS: "不在工作时间", AT_CAPACITY: "已满额"}


def _route(scored: list[Scored], everyone: dict[int, Candidate], facts: LeadFacts, weights: Weights, last_assigned) -> tuple:
    """→ (chosen entry or forced owner candidate or None, basis, reason, tie size)."""
    owner = facts.owner if weights.owner_policy != OwnerPolicy.OFF else None
    if owner is not None:
        label = "客户负责人" if owner.source == "customer" else "医院负责人"
        entry = next((e for e in scored if e[1] == owner.user_id), None)
        if entry is not None:
            return entry, DecisionBasis.OWNER, f"{label} {owner.name} 可接，按客户归属分配", 1
        candidate = everyone.get(owner.user_id)
        why = SKIP_LABELS.get(_skip_reason(candidate), "") if candidate else "不是在职销售"
        if weights.owner_policy == OwnerPolicy.ALWAYS and candidate is not None:
            return candidate, DecisionBasis.OWNER_FORCED, f"{label} {owner.name}（{why}），规则为始终归属负责人", 1
        team_pool = [e for e in scored if owner.team_id is not None and e[2].team_id == owner.team_id]
        if team_pool:
            entry, tie_size = _rotate(team_pool, weights.band, last_assigned)
            return entry, DecisionBasis.OWNER_TEAM, f"{label} {owner.name}{why}，交给其团队得分最高者", tie_size
        if scored:
            entry, tie_size = _rotate(scored, weights.band, last_assigned)
            return entry, DecisionBasis.SCORE, f"{label} {owner.name}{why}且其团队无人可接，按综合得分分配", tie_size
    elif scored:
        entry, tie_size = _rotate(scored, weights.band, last_assigned)
        return entry, DecisionBasis.SCORE, "按综合得分分配" + ("，同分区间内轮转" if tie_size > 1 else ""), tie_size
    return None, DecisionBasis.NOBODY, "", 0


def nobody_reason(skipped: dict[str, int]) -> str:
    parts = [f"{SKIP_LABELS[key]} {count} 人" for key, count in skipped.items() if count]
    return "无人可接：" + ("，".join(parts) if parts else "没有在职销售")


def decide(
    candidates: Iterable[Candidate],
    facts: LeadFacts,
    weights: Weights,
    last_assigned: Callable[[list[int]], dict[int, datetime | None]],
) -> Decision:
    """Rank eligible candidates and pick one. `last_assigned(user_ids)` answers the rotation
    question only for tied reps (a database query on the live path, a dict in simulation)."""
    started = time.perf_counter_ns()
    scored, skipped, everyone = _score_all(candidates, facts, weights)
    chosen, basis, reason, tie_size = _route(scored, everyone, facts, weights, last_assigned)
    context = {"policy": weights.owner_policy, "band": weights.band}
    if facts.owner is not None:
        context["owner"] = facts.owner.as_json()
    if facts.territory is not None:
        context["territory"] = facts.territory.as_json()
    if chosen is None:
        return Decision(None, [], skipped, 0, 0, (time.perf_counter_ns() - started) // 1000, None, basis, nobody_reason(skipped), context)
    if isinstance(chosen, Candidate):  # the owner, by the "always" policy, although not eligible
        forced = breakdown(chosen, facts, weights) | {"rank": 1, "skipped": _skip_reason(chosen)}
        ranked = [forced, *_ranked(scored, None, facts, start=2)][:STORED_CANDIDATES]
        chosen_id = chosen.user_id
    else:
        chosen_id = chosen[1]
        ranked = _ranked(scored, chosen_id, facts)
    return Decision(
        chosen_id=chosen_id,
        ranked=ranked,
        skipped=skipped,
        eligible_count=len(scored),
        tie_size=tie_size,
        duration_us=(time.perf_counter_ns() - started) // 1000,
        chosen_breakdown=ranked[0],
        basis=basis,
        reason=reason,
        context=context,
    )


def _ranked(scored: list[Scored], chosen_id: int | None, facts: LeadFacts, start: int = 1) -> list[dict]:
    """The chosen rep first, then the best scores (STORED_CANDIDATES rows)."""
    top = heapq.nsmallest(STORED_CANDIDATES, scored, key=lambda entry: (entry[1] != chosen_id, -entry[0], entry[1]))
    return [
        _row(candidate, grade_fit, line_fit, territory_fit, workload_fit, score) | {"rank": rank}
        for rank, (score, _user_id, candidate, grade_fit, line_fit, territory_fit, workload_fit) in enumerate(top, start=start)
    ]


# --- Loading the live picture from the database ------------------------------------------------


def _name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


# The roster (who is a rep, on duty, grades, lines, capacity, team) is read fresh at every decision
# (L11): a rep switched off duty or put on leave in any process is never picked by another one.
# Two queries whatever the number of reps. Only the notification-channel settings are still kept
# in memory (`cached_routing`, used by services.channels_for), versioned through the shared cache.
ROSTER_TTL_SECONDS = 10.0
ROSTER_VERSION_KEY = "leads:routing-version"  # versions NotifyChannel (services.channels_for)
_channels: dict = {"version": None, "expires": 0.0, "rows": ()}


def cached_routing(store: dict, load: Callable[[], tuple]) -> tuple:
    """`load()` once per routing version (and at most every ROSTER_TTL_SECONDS)."""
    version = cache.get(ROSTER_VERSION_KEY, 0)
    now = time.monotonic()
    if store["version"] != version or store["expires"] <= now:
        store.update(rows=load(), version=version, expires=now + ROSTER_TTL_SECONDS)
    return store["rows"]


def invalidate_roster(**_signal_kwargs) -> None:
    _channels["expires"] = 0.0
    try:
        cache.incr(ROSTER_VERSION_KEY)
    except ValueError:
        cache.set(ROSTER_VERSION_KEY, 1, None)


def _load_roster() -> tuple:
    """(user id, name, team id, grades, line ids, capacity, on duty) of every active rep. Plain SQL:
    it runs on every decision for every rep, where the ORM's per-row converters cost more than the
    query (grades are JSON text on SQLite, a list on PostgreSQL; each distinct value parsed once)."""
    from django.contrib.auth import get_user_model

    reps = connection.ops.quote_name(Rep._meta.db_table)
    users = connection.ops.quote_name(get_user_model()._meta.db_table)
    through = connection.ops.quote_name(Rep.product_lines.through._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id, r.user_id, u.first_name, u.last_name, u.username, r.team_id, r.grades_served, r.capacity, r.on_duty,"
            f" r.started_on, r.left_on"
            f" FROM {reps} r JOIN {users} u ON u.id = r.user_id WHERE r.role = %s AND u.is_active",
            [Role.REP],
        )
        rows = cursor.fetchall()
        cursor.execute(f"SELECT t.rep_id, t.productline_id FROM {through} t JOIN {reps} r ON r.id = t.rep_id WHERE r.role = %s", [Role.REP])
        line_rows = cursor.fetchall()
    lines: dict[int, set[int]] = {}
    for rep_id, line_id in line_rows:
        lines.setdefault(rep_id, set()).add(line_id)
    grades_of: dict = {}

    def grades(value) -> frozenset[str]:
        key = value if isinstance(value, str) or value is None else tuple(value)
        if key not in grades_of:
            parsed = json.loads(value) if isinstance(value, str) else value
            grades_of[key] = frozenset(parsed or ())
        return grades_of[key]

    # Not yet started or already left (the employment dates, D8) counts as off duty.
    today = timezone.localdate()
    return tuple(
        (user_id, _name(first, last, username), team_id, grades(grade_value), frozenset(lines.get(rep_id, ())), capacity,
         bool(on_duty) and _employed(started_on, left_on, today))
        for rep_id, user_id, first, last, username, team_id, grade_value, capacity, on_duty, started_on, left_on in rows
    )


def _employed(started_on, left_on, day: date) -> bool:
    if isinstance(started_on, str):  # SQLite hands dates back as text
        started_on = date.fromisoformat(started_on)
    if isinstance(left_on, str):
        left_on = date.fromisoformat(left_on)
    return (started_on is None or started_on <= day) and (left_on is None or day <= left_on)


def load_candidates(availability: Availability | None = None) -> list[Candidate]:
    """Every active rep (role rep) with grades, product lines, capacity, duty, availability at the
    moment (leave, working hours) and open workload — read now, in a constant number of queries."""
    loads = open_loads()
    availability = availability or availability_at(timezone.now())
    return [
        Candidate(user_id, name, team_id, grades, line_ids, capacity, on_duty, loads.get(user_id, 0), availability.reason(user_id, team_id))
        for user_id, name, team_id, grades, line_ids, capacity, on_duty in _load_roster()
    ]


def lead_owner(lead: Lead, roster: Iterable[Candidate] = ()) -> Owner | None:
    """L9: the active owner of the lead's customer; else of its hospital — the one active owner
    of the hospital's other customers (several different owners: none)."""
    from django.contrib.auth import get_user_model

    from salesops.models import Customer

    customer = lead.customer  # fetched with the lead by the callers (or just resolved at intake)
    owner_id, source = (customer.owner_id if customer is not None else None), "customer"
    if owner_id is None and lead.hospital_id:
        owners = set(
            Customer.objects.filter(hospital_id=lead.hospital_id, owner__isnull=False, owner__is_active=True)
            .values_list("owner_id", flat=True).distinct()[:2]
        )
        owner_id, source = (owners.pop() if len(owners) == 1 else None), "hospital"
    if owner_id is None:
        return None
    known = next((candidate for candidate in roster if candidate.user_id == owner_id), None)
    if known is not None:
        return Owner(owner_id, known.name, known.team_id, source)
    row = (
        get_user_model().objects.filter(pk=owner_id, is_active=True)
        .values_list("first_name", "last_name", "username", "rep__team_id").first()
    )
    if row is None:  # the owner left: not an active owner
        return None
    first, last, username, team_id = row
    return Owner(owner_id, _name(first, last, username), team_id, source)


def lead_facts(lead: Lead, roster: Iterable[Candidate]) -> LeadFacts:
    """Everything the engine needs to know about the lead: grade, line, territory, owner."""
    basic = LeadFacts.of(lead)
    hospital = lead.hospital if lead.hospital_id else None
    return LeadFacts(basic.grade, basic.line_id, territory_for(hospital, lead.hospital_name), lead_owner(lead, roster))


def decide_lead(lead: Lead, rules, now: datetime) -> Decision:
    """The live decision for one lead, inside the assignment lock: roster, availability and
    workloads as they are at `now`."""
    roster = load_candidates(availability_at(now))
    return decide(roster, lead_facts(lead, roster), Weights.of(rules), last_assigned_from_db)


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
