"""Rule simulation (L8): replay the last N leads under a draft and under the live rules.

Both columns are computed by the same engine (`assignment.decide`) from the same starting point —
today's open workload without the replayed leads — so the difference between them is the effect of
the rules alone. Each replayed lead adds one to its rep's load as the replay goes, until the moment
it stopped being open work in reality (first effective contact or closing).

Each lead is replayed in the world *as it was when it came in* (L11, L10, L9), read from history
(simple_history `as_of`): the reps' team, duty and capacity, leave and working hours, territories,
and the customer's owner. The world is rebuilt only when something in it changed between two leads
(a history row in between), so the cost follows the number of changes, not the number of leads.
A rep recorded only after a lead (e.g. imported before history existed) counts as first recorded.

The page also counts the ties each rule set leaves to rotation: how many the draft removes.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from salesops.models import Customer, Rep, Role

from .assignment import Candidate, Decision, LeadFacts, Owner, Weights, _load_roster, decide, open_loads
from .availability import HistoricalAvailability, working_days
from .models import AssignmentRules, DecisionBasis, Lead
from .routing_models import Leave, Territory, TerritoryArea, WorkSchedule
from .territories import TerritoryIndex, index_as_of, match_lead

MAX_LEADS = 1000
OWNER_BASES = (DecisionBasis.OWNER, DecisionBasis.OWNER_FORCED)


@dataclass
class Run:
    rules: AssignmentRules
    chosen: dict[int, int | None] = field(default_factory=dict)  # lead id → user id
    per_rep: Counter = field(default_factory=Counter)
    grade_known: int = 0
    grade_matched: int = 0
    line_known: int = 0
    line_matched: int = 0
    territory_known: int = 0
    territory_matched: int = 0
    unassigned: int = 0
    ties: int = 0  # leads decided by rotation among two or more tied reps
    tied_reps: int = 0  # their tie sizes summed
    to_owner: int = 0

    @property
    def grade_match_rate(self) -> float | None:
        return self.grade_matched / self.grade_known if self.grade_known else None

    @property
    def line_match_rate(self) -> float | None:
        return self.line_matched / self.line_known if self.line_known else None

    @property
    def territory_match_rate(self) -> float | None:
        return self.territory_matched / self.territory_known if self.territory_known else None

    @property
    def average_tie(self) -> float:
        return self.tied_reps / self.ties if self.ties else 0.0

    @property
    def max_load(self) -> int:
        return max(self.per_rep.values(), default=0)

    def count(self, lead_id: int, facts: LeadFacts, decision: Decision) -> None:
        self.chosen[lead_id] = decision.chosen_id
        if decision.chosen_id is None:
            self.unassigned += 1
            return
        self.per_rep[decision.chosen_id] += 1
        if decision.tie_size > 1:
            self.ties += 1
            self.tied_reps += decision.tie_size
        self.to_owner += decision.basis in OWNER_BASES
        row = decision.chosen_breakdown or {}
        if facts.grade:
            self.grade_known += 1
            self.grade_matched += row.get("grade_fit") == 1.0
        if facts.line_id is not None:
            self.line_known += 1
            self.line_matched += row.get("line_fit") == 1.0
        if facts.territory is not None:
            self.territory_known += 1
            self.territory_matched += row.get("territory_fit") == 1.0


# --- The world as it was ----------------------------------------------------------------------


@dataclass
class World:
    """Reps' state, territories and availability at one moment (from history)."""

    reps: dict[int, Rep]  # user id → the Rep as it was
    territories: TerritoryIndex
    availability: HistoricalAvailability

    @classmethod
    def as_of(cls, moment: datetime, first_recorded: dict[int, Rep]) -> "World":
        reps = dict(first_recorded)
        reps.update({rep.user_id: rep for rep in Rep.history.as_of(moment)})
        return cls(reps, index_as_of(moment), HistoricalAvailability.as_of(moment))


HISTORIES = (Rep, Territory, TerritoryArea, Leave, WorkSchedule)


def _change_points(start: datetime, end: datetime) -> list[datetime]:
    """When anything the world is made of changed in (start, end]."""
    points: set[datetime] = set()
    for model in HISTORIES:
        points.update(model.history.filter(history_date__gt=start, history_date__lte=end).values_list("history_date", flat=True))
    return sorted(points)


def _owners_at(leads: list[Lead]) -> dict[int, list[tuple[datetime, int | None]]]:
    """customer id → [(history date, owner id)] sorted: the owner as of any moment is a bisect."""
    customer_ids = {lead.customer_id for lead in leads if lead.customer_id}
    timeline: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    rows = Customer.history.filter(id__in=customer_ids).order_by("history_date", "history_id")
    for customer_id, when, owner_id in rows.values_list("id", "history_date", "owner_id"):
        timeline[customer_id].append((when, owner_id))
    return timeline


def _owner_as_of(timeline: list[tuple[datetime, int | None]], moment: datetime) -> int | None:
    if not timeline:
        return None
    index = bisect.bisect_right([when for when, _owner in timeline], moment) - 1
    return timeline[max(index, 0)][1]  # recorded only later: as first recorded


@dataclass
class Frame:
    """One replayed lead: its facts and the candidates as they were (loads filled in per run)."""

    lead: Lead
    facts: LeadFacts
    candidates: list[Candidate]


def _frames(leads: list[Lead]) -> list[Frame]:
    roster = _load_roster()  # today's reps: names and product lines (lines have no history)
    first_recorded = {rep.user_id: rep.instance for rep in Rep.history.filter(history_type="+").order_by("history_date")}
    points = _change_points(leads[0].created_at, leads[-1].created_at)
    start, end = timezone.localtime(leads[0].created_at).date(), timezone.localtime(leads[-1].created_at).date()
    workdays = working_days(start - timedelta(days=1), end + timedelta(days=1))
    owners = _owners_at(leads)
    frames, world, applied = [], None, 0
    for lead in leads:
        pending = bisect.bisect_right(points, lead.created_at)
        if world is None or pending > applied:
            world, applied = World.as_of(lead.created_at, first_recorded), pending
        availability = world.availability.at(lead.created_at, workdays)
        candidates = []
        for user_id, name, _team, _grades, line_ids, _capacity, _duty in roster:
            rep = world.reps.get(user_id)
            if rep is None or rep.role != Role.REP:
                continue
            on_duty = rep.on_duty and rep.is_employed_on(timezone.localtime(lead.created_at).date())
            candidates.append(
                Candidate(user_id, name, rep.team_id, frozenset(rep.grades_served or ()), line_ids, rep.capacity, on_duty, 0,
                          availability.reason(user_id, rep.team_id))
            )
        basic = LeadFacts.of(lead)
        owner_id = _owner_as_of(owners.get(lead.customer_id, []), lead.created_at) if lead.customer_id else None
        owner = None
        if owner_id is not None and owner_id in world.reps:
            owner = Owner(owner_id, next((c.name for c in candidates if c.user_id == owner_id), str(owner_id)), world.reps[owner_id].team_id, "customer")
        territory = match_lead(world.territories, lead.hospital if lead.hospital_id else None, lead.hospital_name)
        frames.append(Frame(lead, LeadFacts(basic.grade, basic.line_id, territory, owner), candidates))
    return frames


def _left_open_at(lead: Lead) -> datetime | None:
    """When the lead stopped counting as open work in reality (first effective contact or closing)."""
    moments = [moment for moment in (lead.first_effective_contact_at, lead.closed_at) if moment]
    return min(moments) if moments else None


def _replay(rules: AssignmentRules, frames: list[Frame], baseline: dict[int, int]) -> Run:
    run = Run(rules)
    added: Counter = Counter()
    releases: list[tuple[datetime, int, int]] = []  # (left open at, sequence, rep) — a heap
    last: dict[int, int] = {}
    weights = Weights.of(rules)
    for sequence, frame in enumerate(frames):
        while releases and releases[0][0] <= frame.lead.created_at:
            added[heapq.heappop(releases)[2]] -= 1
        for candidate in frame.candidates:
            candidate.open_count = baseline.get(candidate.user_id, 0) + added[candidate.user_id]
        decision = decide(frame.candidates, frame.facts, weights, lambda ids: {i: last.get(i) for i in ids})
        run.count(frame.lead.pk, frame.facts, decision)
        if decision.chosen_id is not None:
            added[decision.chosen_id] += 1
            last[decision.chosen_id] = sequence
            left = _left_open_at(frame.lead)
            if left is not None:
                heapq.heappush(releases, (left, sequence, decision.chosen_id))
    return run


@dataclass
class Simulation:
    n: int
    first_at: datetime | None
    last_at: datetime | None
    live: Run
    draft: Run
    rep_rows: list[dict]
    changed: list[dict]
    changed_count: int

    @property
    def ties_removed(self) -> int:
        """How many fewer leads the draft leaves to rotation among tied reps (negative: more)."""
        return self.live.ties - self.draft.ties

    @property
    def ties_added(self) -> int:
        return max(0, -self.ties_removed)


def simulate(draft: AssignmentRules, n: int = 200, live: AssignmentRules | None = None, viewer=None) -> Simulation:
    """The replay runs over every lead (loads are company-wide), but with a `viewer` the rows shown
    — per-rep counts and changed assignments — are only those in the viewer's scope (R8)."""
    live = live or AssignmentRules.live()
    n = max(1, min(int(n), MAX_LEADS))
    leads = list(Lead.objects.select_related("product", "assignee", "hospital").order_by("-created_at", "-pk")[:n])
    leads.reverse()  # replay in arrival order
    frames = _frames(leads) if leads else []
    baseline = open_loads(exclude_lead_ids=[lead.pk for lead in leads])
    live_run, draft_run = _replay(live, frames, baseline), _replay(draft, frames, baseline)
    names = {user_id: name for user_id, name, *_rest in _load_roster()}
    rep_rows = []
    for user_id in set(live_run.per_rep) | set(draft_run.per_rep):
        before, after = live_run.per_rep[user_id], draft_run.per_rep[user_id]
        rep_rows.append(
            {"user_id": user_id, "name": names.get(user_id, user_id), "open": baseline.get(user_id, 0), "live": before, "draft": after, "delta": after - before}
        )
    rep_rows.sort(key=lambda row: (-abs(row["delta"]), -row["draft"], str(row["name"])))
    changed = [
        {"lead": lead, "live": names.get(live_run.chosen[lead.pk]), "draft": names.get(draft_run.chosen[lead.pk])}
        for lead in leads
        if live_run.chosen[lead.pk] != draft_run.chosen[lead.pk]
    ]
    if viewer is not None:
        from salesops.access import users_visible_to

        visible_leads = set(Lead.objects.visible_to(viewer).filter(pk__in=[lead.pk for lead in leads]).values_list("pk", flat=True))
        visible_users = set(users_visible_to(viewer).filter(pk__in=[row["user_id"] for row in rep_rows]).values_list("pk", flat=True))
        changed = [row for row in changed if row["lead"].pk in visible_leads]
        rep_rows = [row for row in rep_rows if row["user_id"] in visible_users]
    return Simulation(
        n=len(leads),
        first_at=leads[0].created_at if leads else None,
        last_at=leads[-1].created_at if leads else None,
        live=live_run,
        draft=draft_run,
        rep_rows=rep_rows,
        changed=changed[:50],
        changed_count=len(changed),
    )
