"""Rule simulation (L8): replay the last N leads under a draft and under the live rules.

Both columns are computed by the same engine (`assignment.decide`) from the same starting point —
today's roster and today's open workload without the replayed leads — so the difference between
them is the effect of the weights alone. Each replayed lead adds one to its rep's load as the
replay goes, as it did in reality.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from .assignment import Candidate, LeadFacts, Weights, decide, load_candidates, open_loads
from .models import AssignmentRules, Lead

MAX_LEADS = 1000


@dataclass
class Run:
    rules: AssignmentRules
    chosen: dict[int, int | None] = field(default_factory=dict)  # lead id → user id
    per_rep: Counter = field(default_factory=Counter)
    grade_known: int = 0
    grade_matched: int = 0
    line_known: int = 0
    line_matched: int = 0
    unassigned: int = 0

    @property
    def grade_match_rate(self) -> float | None:
        return self.grade_matched / self.grade_known if self.grade_known else None

    @property
    def line_match_rate(self) -> float | None:
        return self.line_matched / self.line_known if self.line_known else None

    @property
    def max_load(self) -> int:
        return max(self.per_rep.values(), default=0)


def _replay(rules: AssignmentRules, leads: list[Lead], roster: list[Candidate]) -> Run:
    run = Run(rules)
    candidates = [replace(candidate) for candidate in roster]
    by_id = {candidate.user_id: candidate for candidate in candidates}
    last: dict[int, int] = {}
    weights = Weights.of(rules)
    for sequence, lead in enumerate(leads):
        facts = LeadFacts.of(lead)
        decision = decide(candidates, facts, weights, lambda ids: {i: last.get(i) for i in ids})
        run.chosen[lead.pk] = decision.chosen_id
        if decision.chosen_id is None:
            run.unassigned += 1
            continue
        by_id[decision.chosen_id].open_count += 1
        last[decision.chosen_id] = sequence
        run.per_rep[decision.chosen_id] += 1
        row = decision.chosen_breakdown or {}
        if facts.grade:
            run.grade_known += 1
            run.grade_matched += row.get("grade_fit") == 1.0
        if facts.line_id is not None:
            run.line_known += 1
            run.line_matched += row.get("line_fit") == 1.0
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


def simulate(draft: AssignmentRules, n: int = 200, live: AssignmentRules | None = None, viewer=None) -> Simulation:
    """The replay runs over every lead (loads are company-wide), but with a `viewer` the rows shown
    — per-rep counts and changed assignments — are only those in the viewer's scope (R8)."""
    live = live or AssignmentRules.live()
    n = max(1, min(int(n), MAX_LEADS))
    leads = list(Lead.objects.select_related("product", "assignee").order_by("-created_at", "-pk")[:n])
    leads.reverse()  # replay in arrival order
    roster = load_candidates()
    baseline = open_loads(exclude_lead_ids=[lead.pk for lead in leads])
    for candidate in roster:
        candidate.open_count = baseline.get(candidate.user_id, 0)
    live_run, draft_run = _replay(live, leads, roster), _replay(draft, leads, roster)
    names = {candidate.user_id: candidate.name for candidate in roster}
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
