"""A5 — the visits demo: real evidence files whose hashes match, the contract facts in the
ledger, the action-fullness pattern the dashboards look for; deterministic and idempotent."""

from __future__ import annotations

import io
import random

import pytest
from django.core.management import call_command
from django.utils import timezone

from salesops.demo import DemoContext
from salesops.models import Activity, ActivityKind, ContactTitle
from visits import demo
from visits.models import Evidence, TaskStatus, VisitTask

from ..factories import ContactFactory, CustomerFactory, RepFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_company(db):
    """Two teams, eight reps, twelve customers (some with a 院长)."""
    ctx = DemoContext(rng=random.Random(7), stdout=io.StringIO())
    for team_index in range(2):
        team = TeamFactory(name=f"演示{team_index}组")
        members = [RepFactory(team=team).user for _ in range(4)]
        ctx.reps += members
        for index in range(6):
            customer = CustomerFactory(owner=members[index % 4])
            ContactFactory(customer=customer, title=ContactTitle.DIRECTOR)
            if index % 2:
                ContactFactory(customer=customer, title=ContactTitle.DEAN)
            ctx.customers.append(customer)
    return ctx


def test_seed_makes_real_files_and_is_idempotent(small_company, capsys):
    demo.seed(small_company)
    tasks, evidence, activities = VisitTask.objects.count(), Evidence.objects.count(), Activity.objects.count()
    assert tasks > 300 and evidence > 2 * (tasks - 16)
    call_command("verify_evidence")  # every stored hash matches its file
    assert "0 problem(s)" in capsys.readouterr().out
    small_company.rng = random.Random(7)
    demo.seed(small_company)
    assert (VisitTask.objects.count(), Evidence.objects.count(), Activity.objects.count()) == (tasks, evidence, activities)


def test_seed_ledger_follows_the_contract_and_leaves_todays_tasks_open(small_company):
    demo.seed(small_company)
    completed = Activity.objects.filter(kind=ActivityKind.VISIT_COMPLETED)
    assert completed.count() == VisitTask.objects.filter(status=TaskStatus.COMPLETED).count()
    facts = completed.first().facts
    assert set(facts) == {"task_id", "needs_count", "template_code", "is_solution_demo", "contact_title", "onsite"}
    assert completed.filter(facts__is_solution_demo=True).values("rep").distinct().count() >= 3
    assert completed.filter(facts__contact_title=ContactTitle.DEAN).exists()
    assert Activity.objects.filter(kind=ActivityKind.PHOTO).count() == Evidence.objects.filter(kind="photo").count()
    # Several reps per customer (scoring's collaboration needs it).
    per_customer = {}
    for rep_id, customer_id in completed.values_list("rep_id", "customer_id"):
        per_customer.setdefault(customer_id, set()).add(rep_id)
    assert sum(1 for reps in per_customer.values() if len(reps) >= 2) >= 6
    # Every completed task passes its own action lock.
    sample = VisitTask.objects.filter(status=TaskStatus.COMPLETED).prefetch_related("template__modules", "evidence", "needs")[:50]
    assert all(not task.missing_modules() for task in sample)
    # Today has open tasks for the 工作台 and the QR pack.
    assert VisitTask.objects.filter(due_date=timezone.localdate(), status=TaskStatus.PLANNED).count() >= len(small_company.reps) // 2

