"""S2 — points are derived from the evidence-backed activity that proves them, never typed in;
recomputing is idempotent and the same proof never scores twice."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from salesops.ledger import activity_append
from salesops.models import ActivityKind
from scoring.defaults import SWEEP_SCHEDULE, install_schedule
from scoring.derivation import ledger_differences, points_derive
from scoring.models import Behaviour, Contribution, ContributionIsAppendOnly
from scoring.services import rule_publish, scoring_sweep

from ..factories import ContactFactory, CustomerFactory
from .factories import VISIT, lead, payment, record, visit

B = Behaviour
OTHER_KINDS = [
    kind
    for kind in ActivityKind.values
    if kind not in {ActivityKind.LEAD_INTRODUCED, ActivityKind.VISIT_COMPLETED, ActivityKind.PAYMENT_RECORDED}
]


@pytest.mark.parametrize(
    ("kind", "facts", "expected"),
    [
        (ActivityKind.LEAD_INTRODUCED, {"source": "wechat"}, {B.LEAD_INTRODUCED}),
        (ActivityKind.PAYMENT_RECORDED, {"amount": "5000.00", "deal_id": 1, "basis": "bank"}, {B.PAYMENT_PUSH}),
        (ActivityKind.PAYMENT_RECORDED, {"amount": "5000.00", "deal_id": 1, "basis": "finance"}, {B.PAYMENT_PUSH}),
        (ActivityKind.PAYMENT_RECORDED, {"amount": "0.01", "deal_id": 1}, set()),
        (ActivityKind.VISIT_COMPLETED, VISIT, set()),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "needs_count": 2}, set()),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "needs_count": 3}, {B.NEEDS_DIAGNOSIS}),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "needs_count": 5}, {B.NEEDS_DIAGNOSIS}),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "is_solution_demo": True}, {B.SOLUTION_DEMO}),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "contact_title": "院长"}, {B.DEAN_VISIT}),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "contact_title": "副院长"}, {B.DEAN_VISIT}),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "contact_title": "主任"}, set()),
        (ActivityKind.VISIT_COMPLETED, {**VISIT, "contact_title": "副主任"}, set()),
        (
            ActivityKind.VISIT_COMPLETED,
            {**VISIT, "needs_count": 3, "is_solution_demo": True, "contact_title": "院长"},
            {B.NEEDS_DIAGNOSIS, B.SOLUTION_DEMO, B.DEAN_VISIT},
        ),
        (ActivityKind.VISIT_COMPLETED, {}, set()),
        # Needs captured on their own, a demo flag or a dean on other kinds earn nothing: only the
        # completed visit proves the diagnosis, the demo and the dean's meeting.
        (ActivityKind.NEEDS_CAPTURED, {"needs": ["a", "b", "c"], "count": 3, "needs_count": 3}, set()),
        (ActivityKind.VISIT_CHECKIN, {"contact_title": "院长", "is_solution_demo": True}, set()),
    ]
    + [(kind, {"needs_count": 3, "is_solution_demo": True, "contact_title": "院长"}, set()) for kind in OTHER_KINDS],
    ids=lambda value: str(value) if not isinstance(value, (dict, set)) else None,
)
def test_each_behaviour_is_derived_from_the_right_activity_and_no_other(alice, customer, kind, facts, expected):
    """S2: 线索引入 ← lead_introduced; 需求诊断 ← visit_completed needs_count ≥ 3; 方案演示 ←
    visit_completed is_solution_demo; 院长级拜访 ← visit_completed contact 院长/副院长; 回款推动 ←
    payment_recorded. Every other kind and fact scores nothing."""
    activity = record(rep=alice, kind=kind, customer=customer, facts=facts)
    scoring_sweep()
    assert set(Contribution.objects.filter(activity=activity).values_list("behaviour", flat=True)) == expected
    assert Contribution.objects.count() == len(expected)


def test_points_follow_the_default_rules_and_tie_rep_customer_time_and_proof(alice, bob, customer):
    """S1, S2: every scored action has a rep, a customer, a time and the activity that proves it."""
    at = timezone.now() - timedelta(days=3)
    proof = visit(rep=bob, customer=customer, at=at, needs_count=3, is_solution_demo=True, contact_title="院长")
    introduced = lead(rep=alice, customer=customer, at=at - timedelta(days=1))
    pushed = payment(rep=alice, customer=customer, at=at + timedelta(days=1))
    scoring_sweep()
    rows = {(row.activity_id, row.behaviour): row for row in Contribution.objects.all()}
    assert {key: row.points for key, row in rows.items()} == {
        (introduced.pk, B.LEAD_INTRODUCED): 10,
        (proof.pk, B.NEEDS_DIAGNOSIS): 15,
        (proof.pk, B.SOLUTION_DEMO): 20,
        (proof.pk, B.DEAN_VISIT): 25,
        (pushed.pk, B.PAYMENT_PUSH): 30,
    }
    demo = rows[(proof.pk, B.SOLUTION_DEMO)]
    assert (demo.rep, demo.customer, demo.occurred_at, demo.activity) == (bob, customer, at, proof)
    assert demo.team_id == bob.rep.team_id
    assert rows[(pushed.pk, B.PAYMENT_PUSH)].rep == alice  # the rep on the payment proof, not the deal owner


def test_an_activity_without_a_customer_scores_nothing(alice):
    """S2: every scored action is tied to a customer; a lead with no known hospital earns nothing."""
    activity_append(rep=alice, kind=ActivityKind.LEAD_INTRODUCED, subject=ContactFactory(), facts={"source": "wechat"})
    assert scoring_sweep()["contributions"] == 0
    assert not Contribution.objects.exists()


def test_the_same_proof_never_scores_twice(alice, customer):
    """S2: appending the same proof again is the same activity; the table refuses a second row."""
    subject = ContactFactory(customer=customer)
    first = activity_append(rep=alice, kind=ActivityKind.LEAD_INTRODUCED, customer=customer, subject=subject)
    scoring_sweep()
    again = activity_append(rep=alice, kind=ActivityKind.LEAD_INTRODUCED, customer=customer, subject=subject)
    scoring_sweep()
    assert again.pk == first.pk
    assert Contribution.objects.count() == 1
    existing = Contribution.objects.get()
    duplicate = Contribution(
        activity=first,
        behaviour=existing.behaviour,
        rule=existing.rule,
        points=99,
        rep=alice,
        customer=customer,
        occurred_at=first.occurred_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_points_are_never_typed_in_or_changed(alice, customer):
    """S2: a contribution row is append-only, like the ledger it comes from."""
    lead(rep=alice, customer=customer)
    scoring_sweep()
    row = Contribution.objects.get()
    row.points = 1000
    with pytest.raises(ContributionIsAppendOnly):
        row.save()
    with pytest.raises(ContributionIsAppendOnly):
        row.delete()
    with pytest.raises(ContributionIsAppendOnly):
        Contribution.objects.update(points=1000)
    with pytest.raises(ContributionIsAppendOnly):
        Contribution.objects.all().delete()
    assert Contribution.objects.get().points == 10


def _snapshot():
    return sorted(
        Contribution.objects.values_list("activity_id", "behaviour", "rule_id", "points", "rep_id", "customer_id", "occurred_at")
    )


def test_recomputation_is_idempotent(alice, bob, customer):
    """S2: recomputing from the ledger gives the same ledger of points."""
    other = CustomerFactory(owner=bob)
    lead(rep=alice, customer=customer)
    visit(rep=bob, customer=customer, needs_count=4, contact_title="副院长")
    payment(rep=bob, customer=other)
    assert scoring_sweep()["contributions"] == 4
    before = _snapshot()
    assert scoring_sweep()["contributions"] == 0
    call_command("recompute_points", "--verify", stdout=io.StringIO())
    assert _snapshot() == before
    assert ledger_differences() == {"missing": [], "different": [], "orphaned": [], "reversals_missing": []}


def test_incremental_sweeps_across_a_rule_change_equal_a_recompute_from_scratch(alice, bob, customer, olga):
    """S1, S2: points derived minute by minute — with a rule change in between and a proof that
    arrives late — are exactly what a from-scratch derivation of the whole ledger gives."""
    start = timezone.now() - timedelta(days=10)
    with time_machine.travel(start, tick=False):
        lead(rep=alice, customer=customer, at=start - timedelta(hours=2))
        scoring_sweep()
    with time_machine.travel(start + timedelta(days=2), tick=False):
        rule_publish(behaviour=B.LEAD_INTRODUCED, points=12, by=olga)
        lead(rep=bob, customer=customer, at=start + timedelta(days=2, hours=1))
        # Appended late (offline) but it happened before the change: the old version applies.
        lead(rep=bob, customer=customer, at=start + timedelta(days=1))
        scoring_sweep()
    assert sorted(Contribution.objects.values_list("points", flat=True)) == [10, 10, 12]
    assert ledger_differences() == {"missing": [], "different": [], "orphaned": [], "reversals_missing": []}


def test_recompute_points_command_since_and_verify(alice, customer):
    """S2: `manage.py recompute_points --since` derives on demand, only from that date."""
    old = lead(rep=alice, customer=customer, at=timezone.now() - timedelta(days=40))
    recent = lead(rep=alice, customer=customer, at=timezone.now() - timedelta(days=2))
    since = timezone.localtime(timezone.now() - timedelta(days=10)).date().isoformat()
    out = io.StringIO()
    call_command("recompute_points", "--since", since, "--verify", stdout=out)
    assert list(Contribution.objects.values_list("activity_id", flat=True)) == [recent.pk]
    assert "新增 1 条" in out.getvalue() and "核对通过" in out.getvalue()
    call_command("recompute_points", stdout=io.StringIO())
    assert set(Contribution.objects.values_list("activity_id", flat=True)) == {old.pk, recent.pk}


def test_recompute_points_rejects_a_bad_since():
    """S2: bad input is answered with a message naming the option."""
    with pytest.raises(CommandError, match="--since"):
        call_command("recompute_points", "--since", "last tuesday", stdout=io.StringIO())


def test_the_sweep_is_scheduled_every_minute_and_runs_through_django_q(alice, customer):
    """S2: the data migration installs the django-q2 schedule; its function derives points."""
    install_schedule(Schedule)
    schedule = Schedule.objects.get(name=SWEEP_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "scoring.tasks.sweep",
        Schedule.MINUTES,
        1,
        -1,
    )
    lead(rep=alice, customer=customer)
    async_task(schedule.func)  # tests run django-q tasks inline (Q_CLUSTER["sync"])
    assert Contribution.objects.filter(rep=alice, behaviour=B.LEAD_INTRODUCED).count() == 1


def test_points_derive_only_adds_missing_rows(alice, customer):
    """S2: an incremental pass touches only proofs that have not scored yet."""
    lead(rep=alice, customer=customer)
    assert points_derive() == 1
    lead(rep=alice, customer=customer)
    assert points_derive() == 1
    assert points_derive() == 0
    assert Contribution.objects.count() == 2
