"""L4 — smart assignment: weighted score over grade fit, product-line fit and open workload; fair
ties; off-duty and full reps skipped; every decision stored with its breakdown; versioned weights;
supervisor reassignment recorded; concurrent intakes never double-count a rep's load."""

from __future__ import annotations

import json
import subprocess

import pytest

from leads import assignment
from tests.factories import consented_intake
from leads.models import AssignmentDecision, AssignmentRules, DecisionKind, Lead, LeadStatus, RulesStatus
from leads.services import lead_intake, lead_reassign, rules_create_draft, rules_publish
from salesops.models import HospitalGrade, Role

from ..factories import RepFactory, TeamFactory, UserFactory
from .shared_db import PYTHON, ROOT, child_env, read_back

pytestmark = pytest.mark.django_db


def _intake(phone: str, **extra):
    data = consented_intake(contact_name="王主任", phone=phone, source="website", **extra)
    return lead_intake(data=data)


def _rep(username: str, *, grades=("3A", "2A"), lines=(), capacity=20, on_duty=True, team=None):
    rep = RepFactory(user=UserFactory(username=username, first_name=username), grades_served=list(grades), capacity=capacity, on_duty=on_duty, **({"team": team} if team else {}))
    rep.product_lines.set(lines)
    return rep.user


def test_the_best_fitting_rep_wins_and_the_breakdown_is_stored(hip, joint, spine, hospital_3a):
    """L4: a 三甲 hip lead goes to the rep who serves 三甲 and carries 关节类; the decision keeps
    every dimension of every ranked candidate."""
    joint_3a = _rep("joint3a", grades=["3A"], lines=[joint])
    _rep("spine3a", grades=["3A"], lines=[spine])
    _rep("joint_private", grades=["private"], lines=[joint])
    result = _intake("+8613800001111", product=hip, product_model=hip.model_number, hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A")
    assert result.lead.assignee == joint_3a
    decision = AssignmentDecision.objects.get(lead=result.lead)
    assert decision.kind == DecisionKind.AUTO and decision.rules.status == RulesStatus.LIVE and decision.eligible_count == 3
    top = decision.candidates[0]
    assert (top["name"], top["grade_fit"], top["line_fit"], top["workload_fit"], top["score"], top["rank"]) == ("joint3a", 1.0, 1.0, 1.0, 85.7143, 1)
    assert top["territory_fit"] == 0.5  # no territories defined: neither helps nor hurts
    by_name = {row["name"]: row for row in decision.candidates}
    assert (by_name["spine3a"]["grade_fit"], by_name["spine3a"]["line_fit"]) == (1.0, 0.0)
    assert (by_name["joint_private"]["grade_fit"], by_name["joint_private"]["line_fit"]) == (0.0, 1.0)
    # default weights grade 30 / line 40 / load 30 / territory 40 (territory ½ for everyone here):
    # (30·1 + 40·0 + 30·1 + 40·½) / 140 = 57.14 vs (30·0 + 40·1 + 30·1 + 40·½) / 140 = 64.29
    assert (by_name["spine3a"]["score"], by_name["joint_private"]["score"]) == (57.1429, 64.2857)
    assert decision.duration_us > 0


def test_open_workload_counts(hip, joint, hospital_3a):
    """L4: with equal fit, the rep with fewer open leads wins."""
    busy = _rep("busy", lines=[joint])
    free = _rep("free", lines=[joint])
    for index in range(3):
        Lead.objects.create(contact_name="x", phone=f"+861390000000{index}", assignee=busy, status=LeadStatus.ASSIGNED)
    Lead.objects.create(contact_name="done", phone="+8613900009999", assignee=free, status=LeadStatus.CONTACTED)
    assert _intake("+8613800001111", product=hip, hospital_grade="3A").lead.assignee == free


def test_off_duty_and_full_reps_are_skipped_and_counted(hip, joint):
    """L4: off duty or at capacity → not a candidate; the decision says how many were skipped."""
    _rep("resting", lines=[joint], on_duty=False)
    full = _rep("full", lines=[joint], capacity=1)
    Lead.objects.create(contact_name="x", phone="+8613900000001", assignee=full, status=LeadStatus.ACKNOWLEDGED)
    spare = _rep("spare", grades=["private"])
    result = _intake("+8613800001111", product=hip, hospital_grade="3A")
    assert result.lead.assignee == spare
    assert result.decision.skipped == {"off_duty": 1, "on_leave": 0, "off_hours": 0, "at_capacity": 1}
    assert result.decision.eligible_count == 1


def test_supervisors_and_inactive_users_are_not_candidates(carol, hip):
    """L4: only active reps (role rep) are assigned leads."""
    lone = _rep("lone")
    lone.is_active = False
    lone.save()
    result = _intake("+8613800001111")
    assert result.lead.assignee is None and result.decision.eligible_count == 0


def test_ties_are_broken_round_robin(joint, hip):
    """L4: equal scores rotate: never-assigned first, then whoever waited longest."""
    reps = [_rep(f"tie{i}", lines=[joint], capacity=100) for i in range(3)]
    chosen = [_intake(f"+86138000011{i:02d}", product=hip, hospital_grade="3A").lead.assignee for i in range(6)]
    # Loads rise by one per lead, so after the first round everyone is tied again.
    assert chosen == reps + reps
    decision = AssignmentDecision.objects.order_by("pk").first()
    assert decision.tie_size == 3


def test_decide_is_pure_and_handles_unknowns():
    """L4: unknown grade or product line scores ½ for everyone (neither helps nor hurts)."""
    weights = assignment.Weights(30, 40, 30)
    candidate = assignment.Candidate(1, "a", None, frozenset({"3A"}), frozenset({7}), 10, True, 5)
    row = assignment.breakdown(candidate, assignment.LeadFacts("", None), weights)
    assert (row["grade_fit"], row["line_fit"], row["workload_fit"], row["score"]) == (0.5, 0.5, 0.5, 50.0)
    decision = assignment.decide([candidate], assignment.LeadFacts("3A", 7), weights, lambda ids: {})
    assert decision.chosen_id == 1 and decision.ranked[0]["score"] == 85.0


def test_published_weights_change_the_next_decision(olga, hip, joint, spine, hospital_3a):
    """L4: weights are versioned: a published draft drives the next decision, which records its version."""
    line_rep = _rep("line_only", grades=["private"], lines=[joint])
    grade_rep = _rep("grade_only", grades=["3A"], lines=[spine])
    assert _intake("+8613800001111", product=hip, hospital_grade="3A").lead.assignee == line_rep
    draft = rules_create_draft(by=olga, weight_grade=80, weight_product_line=10, weight_workload=10, ack_timeout_minutes=3, dedupe_window_days=30)
    assert _intake("+8613800001112", product=hip, hospital_grade="3A").lead.assignee == line_rep  # a draft changes nothing
    rules_publish(rules=draft, by=olga)
    result = _intake("+8613800001113", product=hip, hospital_grade="3A")
    assert result.lead.assignee == grade_rep and result.decision.rules == draft
    assert AssignmentRules.objects.get(version=1).status == RulesStatus.RETIRED
    assert AssignmentRules.objects.filter(status=RulesStatus.LIVE).count() == 1


def test_supervisor_reassignment_is_recorded_and_notifies_both(carol, alice, bob, client):
    """L4: a manual decision (by, from, to, reason); the new rep must acknowledge again."""
    lead = _intake("+8613800001111").lead
    first = lead.assignee
    other = bob if first == alice else alice
    client.force_login(carol)
    response = client.post(f"/leads/{lead.pk}/reassign/", {"to": other.pk, "reason": "客户指定"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.assignee == other and lead.status == LeadStatus.ASSIGNED and lead.acknowledged_at is None
    manual = AssignmentDecision.objects.get(lead=lead, kind=DecisionKind.MANUAL)
    assert (manual.decided_by, manual.previous_assignee, manual.chosen, manual.reason) == (carol, first, other, "客户指定")
    assert manual.candidates[0]["user_id"] == other.pk
    assert lead.history.first().history_user == carol
    assert other.notifications.filter(dedupe_key__contains=f":d{manual.pk}:").exists()
    assert first.notifications.filter(title__startswith="线索已改派").exists()


def test_reps_cannot_reassign_and_supervisors_only_within_their_team(alice, carol, charlie, client):
    """L4/A3: a rep gets 403; a supervisor cannot hand a lead to another team's rep."""
    lead = _intake("+8613800001111").lead
    client.force_login(alice if lead.assignee == alice else lead.assignee)
    assert client.post(f"/leads/{lead.pk}/reassign/", {"to": charlie.pk, "reason": "x"}).status_code == 403
    client.force_login(carol)
    before = lead.assignee
    client.post(f"/leads/{lead.pk}/reassign/", {"to": charlie.pk, "reason": "x"})
    lead.refresh_from_db()
    assert lead.assignee == before


def test_why_this_rep_is_shown_on_the_lead(alice, carol, client, hip, joint, hospital_3a):
    """L4: the lead page explains the decision: candidates, fits, loads, scores, rules version."""
    alice.rep.product_lines.set([joint])
    lead = _intake("+8613800001111", product=hip, hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A").lead
    client.force_login(carol)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "为什么分配给 TA" in page and "规则 v1" in page and "85.7" in page


def test_intake_query_count_does_not_grow_with_reps(hip, joint, hospital_3a, django_assert_max_num_queries):
    """L4: the engine reads all reps in a constant number of queries (10 reps or 60, same count);
    the roster itself is kept in memory between rep changes."""
    team = TeamFactory()
    for index in range(10):
        _rep(f"r{index}", lines=[joint], team=team)
    # The first lead at a hospital creates its customer; measure the steady state after it.
    _intake("+8613800001110", product=hip, hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A")
    with django_assert_max_num_queries(25) as small:
        _intake("+8613800001111", product=hip, hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A")
    for index in range(10, 60):
        _rep(f"r{index}", lines=[joint], team=team)
    # After rep changes the in-memory roster and channel settings are read again once (three
    # queries, any number of reps): warm them, then compare the steady state.
    _intake("+8613800001119", product=hip, hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A")
    with django_assert_max_num_queries(len(small.captured_queries)):
        _intake("+8613800001112", product=hip, hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_intakes_keep_loads_consistent(joint, hip, tmp_path):
    """L4: 20 intakes at the same instant from 20 threads of another process, against the same
    database (PostgreSQL row lock / SQLite IMMEDIATE transactions). 4 reps with capacity 5 each end
    with exactly 5 leads: had any decision read a stale load, someone would be over or under."""
    reps = [_rep(f"c{i}", lines=[joint], capacity=5) for i in range(4)]
    AssignmentRules.live()
    env = child_env(tmp_path)
    done = subprocess.run(
        [PYTHON, "-m", "tests.leads.concurrent_intakes", "20", str(hip.pk)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assigned = json.loads(done.stdout.strip().splitlines()[-1])
    assert None not in assigned
    assert {rep.pk: assigned.count(rep.pk) for rep in reps} == {rep.pk: 5 for rep in reps}
    loads = dict(read_back(env, "SELECT assignee_id, COUNT(*) FROM leads_lead WHERE status = 'assigned' GROUP BY assignee_id"))
    assert loads == {rep.pk: 5 for rep in reps}
    assert read_back(env, "SELECT COUNT(*) FROM leads_assignmentdecision")[0][0] == 20
