"""A5: the demo company's lead-to-cash history — yellow and green lights lit, overdue lists
filled, proposals waiting for review — seeded idempotently."""

import io
import random
from datetime import timedelta

import pytest

from leads.cash import demo
from leads.cash.models import BankStatement, Deal, DealStatus, MatchProposal, Quote, QuoteVersion, Receivable, RowStatus, StatementRow
from salesops.demo import DemoContext, seed_master_data
from salesops.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


def test_demo_seed_lights_the_board_and_is_idempotent():
    ctx = DemoContext(rng=random.Random(2026), stdout=io.StringIO())
    seed_master_data(ctx)
    demo.seed(ctx)
    counts = (Quote.objects.count(), Deal.objects.count(), StatementRow.objects.count(), Activity.objects.count())
    assert QuoteVersion.objects.awaiting_confirmation().count() >= 5  # yellow
    assert Deal.objects.paid_at_least().count() >= 5  # green
    assert Receivable.objects.overdue().exists()
    won = Deal.objects.filter(status=DealStatus.WON)
    assert won.count() == 32 and Deal.objects.filter(status=DealStatus.LOST).count() == 6
    assert sum(1 for deal in won if deal.reps.count() >= 2) >= 15  # several reps involved
    span = won.order_by("closed_at").last().closed_at - won.order_by("closed_at").first().closed_at
    assert span.days >= 100  # about four months of history
    assert Activity.objects.filter(kind=ActivityKind.APPROVAL).exists()
    assert StatementRow.objects.filter(status=RowStatus.PROPOSED).count() >= 3
    assert StatementRow.objects.filter(status=RowStatus.REVIEW).exists()
    assert MatchProposal.objects.filter(kind="combined").exists()
    assert BankStatement.objects.get().encoding == "gbk"

    demo.seed(ctx)  # a second run adds nothing
    assert counts == (Quote.objects.count(), Deal.objects.count(), StatementRow.objects.count(), Activity.objects.count())
    assert "跳过" in ctx.stdout.getvalue()


def test_demo_solo_deals_give_the_cross_training_run():
    """D2/A5: 浙中西组 won a deal in each of two consecutive complete weeks on a new department only
    its owner worked in the 180 days before the close, so the collaboration-density rule (per team,
    weekly average < 1.8 two weeks running) opens a 交叉带教 task on first start. The lead and visit
    demos only work on `ctx.customers`, so these customers stay single-rep after them too."""
    from dashboards.anomalies import evaluate_kpi
    from dashboards.kpis import kpi_cache
    from dashboards.models import InterventionKind, Kpi, Threshold
    from dashboards.periods import local_date, today

    kpi_cache().clear()  # settled KPI cells of other tests' databases must not leak in
    ctx = DemoContext(rng=random.Random(2026), stdout=io.StringIO())
    seed_master_data(ctx)
    demo.seed(ctx)
    solo = list(Deal.objects.filter(customer__notes=demo.SOLO_NOTE).select_related("customer", "owner__rep__team").order_by("closed_at"))
    assert [deal.customer.department.name for deal in solo] == list(demo.SOLO_DEPARTMENTS)
    assert {deal.owner.rep.team.name for deal in solo} == {demo.SOLO_TEAM}
    assert not {deal.customer_id for deal in solo} & {customer.pk for customer in ctx.customers}
    for deal in solo:
        touched = Activity.objects.filter(customer=deal.customer, occurred_at__lte=deal.closed_at)
        assert set(touched.values_list("rep_id", flat=True)) == {deal.owner_id}
    mondays = [local_date(deal.closed_at) - timedelta(days=local_date(deal.closed_at).weekday()) for deal in solo]
    assert mondays[1] - mondays[0] == timedelta(days=7) and mondays[1] + timedelta(days=6) < today()

    from scoring.services import scoring_sweep

    scoring_sweep()  # density counts reps who EARNED POINTS (D8): derive them as `seed_demo` does
    threshold = Threshold.for_kpi(Kpi.COLLABORATION_DENSITY)
    opened = evaluate_kpi(Kpi.COLLABORATION_DENSITY, as_of=today() - timedelta(days=1), threshold=threshold, lookback=20)
    kpi_cache().clear()
    solo_weeks = {monday.isoformat() for monday in mondays}
    runs = [
        [(point["value"], point["n"]) for point in item.trigger_data["periods"] if point["first_day"] in solo_weeks]
        for item in opened
        if item.kind == InterventionKind.CROSS_TRAINING and item.team.name == demo.SOLO_TEAM
    ]
    assert [(1.0, 1), (1.0, 1)] in runs
