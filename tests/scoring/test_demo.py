"""A5 — the scoring demo seed: points for everything in the ledger, a split per won deal, most
older splits approved; deterministic, idempotent and fine on a thin ledger."""

from __future__ import annotations

import io
import random
from datetime import timedelta

from django.utils import timezone

from salesops.demo import DemoContext
from scoring import demo
from scoring.models import BonusSplit, Contribution, SplitStatus

from ..factories import CustomerFactory
from .factories import lead, visit, won_deal


def _ctx(director, reps, supervisors) -> DemoContext:
    return DemoContext(rng=random.Random(2026), stdout=io.StringIO(), reps=reps, supervisors=supervisors, director=director)


def test_seed_works_on_an_empty_ledger(diana, alice, carol):
    """A5: before the other apps' seeds land, scoring's seed derives nothing and does not fail."""
    ctx = _ctx(diana, [alice], [carol])
    demo.seed(ctx)
    assert not Contribution.objects.exists() and not BonusSplit.objects.exists()
    assert "贡献值：新增 0 条" in ctx.stdout.getvalue()


def test_seed_scores_the_ledger_splits_won_deals_and_approves_most_older_ones(diana, alice, bob, carol):
    """A5: multi-rep customers with won deals get splits; older ones are mostly approved by the
    owner's supervisor; recent ones wait; a second run adds nothing."""
    now = timezone.now()
    deals = []
    for index in range(12):
        customer = CustomerFactory(owner=alice)
        closed = now - timedelta(days=30 + index) if index < 10 else now - timedelta(days=2)
        lead(rep=alice, customer=customer, at=closed - timedelta(days=20))
        visit(rep=bob, customer=customer, at=closed - timedelta(days=5), needs_count=3, is_solution_demo=True)
        deals.append(won_deal(customer=customer, owner=alice, closed_at=closed))
    ctx = _ctx(diana, [alice, bob], [carol])
    demo.seed(ctx)
    splits = BonusSplit.objects.current()
    assert splits.count() == 12 and Contribution.objects.count() == 36
    approved = splits.filter(status=SplitStatus.APPROVED)
    # Deterministic: the choice is keyed by the deal, about 85 % of older deals.
    expected = {deal.pk for deal in deals[:10] if random.Random(f"scoring-approve-{deal.pk}").random() < demo.APPROVED_SHARE}
    assert set(approved.values_list("deal_id", flat=True)) == expected and expected
    assert set(approved.values_list("approved_by", flat=True)) == {carol.pk}
    assert not approved.filter(deal__in=deals[10:]).exists()
    snapshot = sorted(BonusSplit.objects.values_list("pk", "status"))
    demo.seed(ctx)
    assert sorted(BonusSplit.objects.values_list("pk", "status")) == snapshot
    assert Contribution.objects.count() == 36
