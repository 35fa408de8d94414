"""S3 — when a deal closes its bonus pool is split by points on that customer in the attribution
window: exact, explainable, one split per deal, frozen on approval, corrected by new entries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.cash.models import DealStatus
from salesops.models import Notification
from scoring.models import BonusPolicy, BonusShare, BonusSplit, PoolBasis, SplitIsFrozen, SplitStatus
from scoring.services import scoring_sweep, split_approve, split_correct, split_create_for_deal

from ..factories import CustomerFactory, RepFactory, UserFactory
from .factories import lead, payment, visit, won_deal


@pytest.fixture
def dan(team_a):
    return RepFactory(user=UserFactory(username="dan", first_name="丹"), team=team_a).user


@pytest.fixture
def closed_at():
    return timezone.now() - timedelta(days=1)


@pytest.fixture
def fixed_pool(closed_at):
    """¥10,000.00 per won deal, 90-day window, in force before the deal closed."""
    return BonusPolicy.objects.create(
        name="固定奖金池",
        basis=PoolBasis.FIXED,
        fixed_amount=Decimal("10000.00"),
        window_days=90,
        effective_from=closed_at - timedelta(days=30),
    )


def shares_of(split) -> dict:
    return {share.rep.username: share.amount for share in split.shares.select_related("rep")}


def test_three_reps_split_ten_thousand_by_10_15_20_points(alice, bob, dan, customer, fixed_pool, closed_at):
    """S3: alice introduced the lead (10), bob diagnosed needs (15), dan demonstrated (20):
    ¥10,000.00 → 2222.22 / 3333.33 / 4444.45 (largest remainder; the cent goes to dan)."""
    lead(rep=alice, customer=customer, at=closed_at - timedelta(days=20))
    visit(rep=bob, customer=customer, at=closed_at - timedelta(days=10), needs_count=3)
    visit(rep=dan, customer=customer, at=closed_at - timedelta(days=5), is_solution_demo=True)
    deal = won_deal(customer=customer, owner=alice, closed_at=closed_at)
    scoring_sweep()
    split = BonusSplit.objects.get(deal=deal)
    assert shares_of(split) == {"alice": Decimal("2222.22"), "bob": Decimal("3333.33"), "dan": Decimal("4444.45")}
    assert sum(shares_of(split).values()) == split.pool == Decimal("10000.00")
    assert split.total_points == 45 and not split.fell_back_to_owner
    dan_share = split.shares.get(rep=dan)
    assert dan_share.remainder_cent and dan_share.rank == 1 and dan_share.exact_quota == Decimal("4444.4444444444")
    # Explainable: the split keeps exactly the contributions it counted.
    assert sorted(split.contributions.values_list("points", flat=True)) == [10, 15, 20]


def test_only_points_on_that_customer_inside_the_window_count(alice, bob, customer, fixed_pool, closed_at):
    """S3: points on another customer, before the window or after the close are not counted."""
    lead(rep=alice, customer=customer, at=closed_at - timedelta(days=30))
    visit(rep=bob, customer=customer, at=closed_at - timedelta(days=91), is_solution_demo=True)  # before the window
    visit(rep=bob, customer=CustomerFactory(owner=bob), at=closed_at - timedelta(days=3), contact_title="院长")
    payment(rep=bob, customer=customer, at=closed_at + timedelta(hours=3))  # after the close
    deal = won_deal(customer=customer, owner=bob, closed_at=closed_at)
    scoring_sweep()
    split = BonusSplit.objects.get(deal=deal)
    assert shares_of(split) == {"alice": Decimal("10000.00")}
    assert split.window_start == closed_at - timedelta(days=90) and split.window_end == closed_at


def test_pool_as_a_rate_of_the_deal_amount_is_rounded_to_the_cent(alice, customer, closed_at):
    """S3: the default policy is 2 % of the deal amount: 2 % × 123,456.78 = 2,469.1356 → 2,469.14."""
    lead(rep=alice, customer=customer, at=closed_at - timedelta(days=1))
    deal = won_deal(customer=customer, owner=alice, amount="123456.78", closed_at=closed_at)
    scoring_sweep()
    split = BonusSplit.objects.get(deal=deal)
    assert (split.basis, split.rate_percent, split.pool) == (PoolBasis.RATE, Decimal("2.0000"), Decimal("2469.14"))


def test_a_deal_without_points_falls_back_to_the_owner(bob, customer, fixed_pool, closed_at):
    """S3: no points in the window → the whole pool goes to the deal owner, and the split says so."""
    deal = won_deal(customer=customer, owner=bob, closed_at=closed_at)
    scoring_sweep()
    split = BonusSplit.objects.get(deal=deal)
    assert split.fell_back_to_owner and split.total_points == 0
    assert shares_of(split) == {"bob": Decimal("10000.00")}


def test_the_sweep_creates_one_split_per_won_deal(alice, customer, closed_at):
    """S3: idempotent — sweeping again adds nothing; a lost deal gets no split."""
    lead(rep=alice, customer=customer, at=closed_at - timedelta(days=2))
    won = won_deal(customer=customer, owner=alice, closed_at=closed_at)
    won_deal(customer=customer, owner=alice, closed_at=closed_at, status=DealStatus.LOST)
    assert scoring_sweep()["splits"] == 1
    assert scoring_sweep()["splits"] == 0
    assert split_create_for_deal(deal=won).pk == BonusSplit.objects.get().pk
    assert list(BonusSplit.objects.values_list("deal_id", flat=True)) == [won.pk]


def test_the_database_refuses_a_second_original_split(alice, customer, closed_at):
    """S3: one split per deal, enforced by a constraint (two racing sweeps cannot both win)."""
    deal = won_deal(customer=customer, owner=alice, closed_at=closed_at)
    split = split_create_for_deal(deal=deal)
    twin = BonusSplit(
        deal=deal,
        policy=split.policy,
        basis=split.basis,
        deal_amount=split.deal_amount,
        pool=split.pool,
        window_days=split.window_days,
        window_start=split.window_start,
        window_end=split.window_end,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_approval_freezes_the_split_and_tells_the_reps(alice, bob, carol, customer, fixed_pool, closed_at):
    """S3: an approved split never changes; each rep is notified of their share."""
    lead(rep=alice, customer=customer, at=closed_at - timedelta(days=2))
    visit(rep=bob, customer=customer, at=closed_at - timedelta(days=1), needs_count=3)
    deal = won_deal(customer=customer, owner=alice, closed_at=closed_at)
    scoring_sweep()
    split = BonusSplit.objects.get(deal=deal)
    split_approve(split=split, by=carol)
    split.refresh_from_db()
    assert (split.status, split.approved_by) == (SplitStatus.APPROVED, carol)
    split.pool = Decimal("1.00")
    with pytest.raises(SplitIsFrozen):
        split.save()
    with pytest.raises(ValidationError):
        split_approve(split=split, by=carol)
    titles = set(Notification.objects.filter(recipient__in=[alice, bob]).values_list("recipient__username", "title"))
    assert ("alice", f"奖金分配已审批：{customer.name} ¥4000.00") in titles
    assert ("bob", f"奖金分配已审批：{customer.name} ¥6000.00") in titles


def test_a_correction_is_a_new_entry_and_the_old_one_stays(alice, bob, carol, customer, fixed_pool, closed_at):
    """S3: correcting an approved split creates a new split referencing it, recomputed from the
    points now in the ledger; the approved one keeps its numbers; the history shows both."""
    lead(rep=alice, customer=customer, at=closed_at - timedelta(days=2))
    deal = won_deal(customer=customer, owner=alice, closed_at=closed_at)
    scoring_sweep()
    original = BonusSplit.objects.get(deal=deal)
    split_approve(split=original, by=carol)
    # A visit inside the window arrives late (synced from an offline phone).
    visit(rep=bob, customer=customer, at=closed_at - timedelta(days=1), is_solution_demo=True)
    scoring_sweep()
    correction = split_correct(split=original, reason="补录离线拜访", by=carol)
    original.refresh_from_db()
    assert correction.corrects == original and correction.status == SplitStatus.DRAFT
    assert shares_of(original) == {"alice": Decimal("10000.00")} and original.status == SplitStatus.APPROVED
    assert shares_of(correction) == {"alice": Decimal("3333.33"), "bob": Decimal("6666.67")}
    assert list(BonusSplit.objects.current().filter(deal=deal)) == [correction]
    assert correction.history.first().history_user == carol
    with pytest.raises(ValidationError):
        split_correct(split=original, reason="再改一次", by=carol)  # only the latest entry is corrected
    again = split_correct(split=correction, reason="奖金池调整", pool=Decimal("12000.00"), by=carol)
    assert sum(shares_of(again).values()) == Decimal("12000.00")
    assert BonusSplit.objects.filter(deal=deal).count() == 3
    assert BonusShare.objects.filter(split__deal=deal).count() == 5


def test_a_correction_needs_a_reason_and_a_valid_pool(alice, carol, customer, closed_at):
    """S3: bad input names the field."""
    deal = won_deal(customer=customer, owner=alice, closed_at=closed_at)
    split = split_create_for_deal(deal=deal)
    with pytest.raises(ValidationError) as error:
        split_correct(split=split, reason="  ", by=carol)
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        split_correct(split=split, reason="金额", pool=Decimal("10.005"), by=carol)
    assert "pool" in error.value.message_dict


def test_a_correction_follows_a_corrected_deal_amount_at_the_splits_own_rate(alice, carol, olga, customer, closed_at):
    """S3: the deal amount was entered wrong; the correction recomputes the pool at the rate the
    split was made with, even if ops changed the policy since."""
    lead(rep=alice, customer=customer, at=closed_at - timedelta(days=1))
    deal = won_deal(customer=customer, owner=alice, amount="100000.00", closed_at=closed_at)
    scoring_sweep()
    original = BonusSplit.objects.get(deal=deal)
    assert original.pool == Decimal("2000.00")
    policy = original.policy
    policy.rate_percent = Decimal("5.0000")
    policy.save()
    from leads.cash.deals import deal_amount_correct

    deal = deal_amount_correct(deal=deal, amount=Decimal("110000.00"), reason="合同金额更正", by=olga)  # finance, T7
    correction = split_correct(split=original, reason="合同金额更正", by=carol)
    assert (correction.deal_amount, correction.rate_percent, correction.pool) == (
        Decimal("110000.00"),
        Decimal("2.0000"),
        Decimal("2200.00"),
    )
    assert original.pool == Decimal("2000.00")
