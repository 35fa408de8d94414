"""A5: the demo company's lead-to-cash history — yellow and green lights lit, overdue lists
filled, proposals waiting for review — seeded idempotently."""

import io
import random

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
    assert won.count() == 30 and Deal.objects.filter(status=DealStatus.LOST).count() == 6
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
