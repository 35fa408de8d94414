"""S3 — the split arithmetic: exact to the cent, never negative, monotone in points, deterministic
(property-based with hypothesis, plus the hand-computed examples)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.splits import Claimant, largest_remainder_split

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def amounts(allocations) -> dict:
    return {allocation.key: allocation.amount for allocation in allocations}


def test_three_reps_ten_thousand_yuan_by_10_15_20_points():
    """S3: ¥10,000.00 over 10 / 15 / 20 points. Exact quotas 2222.222…, 3333.333…, 4444.444…;
    floors sum to 9999.99; the one leftover cent goes to the largest remainder (.444… → the
    20-point rep): 2222.22 / 3333.33 / 4444.45."""
    result = largest_remainder_split(
        Decimal("10000.00"), [Claimant(1, 10, T0), Claimant(2, 15, T0), Claimant(3, 20, T0)]
    )
    assert amounts(result) == {1: Decimal("2222.22"), 2: Decimal("3333.33"), 3: Decimal("4444.45")}
    assert sum(amounts(result).values()) == Decimal("10000.00")
    by_key = {allocation.key: allocation for allocation in result}
    assert by_key[3].remainder_cent and not by_key[1].remainder_cent and not by_key[2].remainder_cent
    assert [allocation.key for allocation in result] == [3, 2, 1]  # remainder order .444 > .333 > .222
    assert by_key[1].exact_quota == Decimal("2222.2222222222")


def test_equal_remainders_go_to_more_points_then_earlier_first_contribution_then_lower_user_id():
    """S3: the stated tie-break. ¥0.02 over three equal claimants: two leftover cents, equal
    remainders and points, so the earliest first contributions win; among equal times the
    lower user id."""
    result = largest_remainder_split(
        Decimal("0.02"),
        [Claimant(7, 5, T0 + timedelta(hours=2)), Claimant(9, 5, T0), Claimant(8, 5, T0 + timedelta(hours=1))],
    )
    assert amounts(result) == {9: Decimal("0.01"), 8: Decimal("0.01"), 7: Decimal("0.00")}
    same_time = largest_remainder_split(Decimal("0.01"), [Claimant(12, 5, T0), Claimant(11, 5, T0)])
    assert amounts(same_time) == {11: Decimal("0.01"), 12: Decimal("0.00")}


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        largest_remainder_split(Decimal("10.001"), [Claimant(1, 1)])
    with pytest.raises(ValueError):
        largest_remainder_split(Decimal("-1.00"), [Claimant(1, 1)])
    with pytest.raises(ValueError):
        largest_remainder_split(Decimal("10.00"), [Claimant(1, 0)])
    with pytest.raises(ValueError):
        largest_remainder_split(Decimal("10.00"), [Claimant(1, 3), Claimant(1, 4)])


pools = st.integers(min_value=0, max_value=10**11).map(lambda cents: Decimal(cents) / 100)
claimant_lists = st.lists(
    st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=10**6)),
    min_size=1,
    max_size=25,
).filter(lambda rows: sum(points for points, _ in rows) > 0)


def build(rows) -> list[Claimant]:
    return [Claimant(key, points, T0 + timedelta(seconds=offset)) for key, (points, offset) in enumerate(rows, start=1)]


@settings(max_examples=300, deadline=None)
@given(pool=pools, rows=claimant_lists)
def test_shares_always_sum_to_the_pool_and_are_never_negative(pool, rows):
    """S3 (property): whatever the pool and points, the shares sum to the pool to the cent, none
    is negative, each is a whole number of cents within one cent of its exact quota."""
    claimants = build(rows)
    result = largest_remainder_split(pool, claimants)
    total_points = sum(claimant.points for claimant in claimants)
    assert sum(allocation.amount for allocation in result) == pool
    for allocation in result:
        assert allocation.amount >= 0
        assert allocation.amount == allocation.amount.quantize(Decimal("0.01"))
        exact = Fraction(int(pool * 100) * allocation.points, total_points) / 100
        assert abs(Fraction(allocation.amount) - exact) < Fraction(1, 100)
    assert sum(1 for allocation in result if allocation.remainder_cent) < len(result)  # leftover < n


@settings(max_examples=300, deadline=None)
@given(pool=pools, rows=claimant_lists)
def test_more_points_never_means_a_smaller_share(pool, rows):
    """S3 (property): the split is monotone in points."""
    result = largest_remainder_split(pool, build(rows))
    ordered = sorted(result, key=lambda allocation: allocation.points)
    for lower, higher in zip(ordered, ordered[1:]):
        if higher.points > lower.points:
            assert higher.amount >= lower.amount


@settings(max_examples=200, deadline=None)
@given(pool=pools, rows=claimant_lists, data=st.data())
def test_the_result_does_not_depend_on_input_order(pool, rows, data):
    """S3 (property): deterministic — the same claimants in any order get the same amounts."""
    claimants = build(rows)
    shuffled = data.draw(st.permutations(claimants))
    assert amounts(largest_remainder_split(pool, claimants)) == amounts(largest_remainder_split(pool, shuffled))
