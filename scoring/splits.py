"""Splitting a bonus pool in proportion to points, exactly (S3).

The rule, stated once (the statement and docs/scoring.md quote it):

1. Work in whole cents. Each rep's exact quota is pool × points ÷ total points.
2. Each rep first gets their quota rounded DOWN to the cent.
3. The cents left over (always fewer than the number of reps) go one each to the reps with the
   largest fractional remainder (largest-remainder / Hamilton method).
4. Equal remainders are ordered by: more points first, then the earlier first contribution in the
   window, then the lower user id. The order is total, so the result is deterministic.

So the shares always sum to the pool to the cent, are never negative, never differ from the exact
quota by a cent or more, and a rep with more points never gets less than one with fewer.
Example: ¥10,000.00 over 10 / 15 / 20 points → 2222.22 / 3333.33 / 4444.45.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

CENT = Decimal("0.01")
QUOTA_PLACES = Decimal("0.0000000001")


@dataclass(frozen=True)
class Claimant:
    key: int  # the user id
    points: int
    first_contribution_at: datetime | None = None


@dataclass(frozen=True)
class Allocation:
    key: int
    points: int
    exact_quota: Decimal  # pool × points ÷ total, to 10 places (for the explanation)
    amount: Decimal  # what the rep gets, in yuan with 2 places
    remainder_cent: bool  # received one of the leftover cents
    rank: int  # 1-based position in the leftover-cent order


def pool_cents(pool: Decimal) -> int:
    """The pool as whole cents; a pool with fractions of a cent or below zero is a caller error."""
    cents = Decimal(pool) * 100
    if cents != cents.to_integral_value() or cents < 0:
        raise ValueError(f"pool must be a non-negative amount in whole cents, got {pool!r}")
    return int(cents)


def _tie_key(claimant: Claimant, remainder: int) -> tuple:
    first = claimant.first_contribution_at
    # A rep without a known first contribution sorts after everyone who has one.
    return (-remainder, -claimant.points, first is None, first or datetime.min, claimant.key)


def largest_remainder_split(pool: Decimal, claimants: Iterable[Claimant]) -> list[Allocation]:
    """Split `pool` among claimants by points. Claimants must have distinct keys and positive
    points in total. Returns allocations in leftover-cent order (rank 1 first)."""
    people = list(claimants)
    if len({person.key for person in people}) != len(people):
        raise ValueError("claimants must be distinct")
    if any(person.points < 0 for person in people):
        raise ValueError("points cannot be negative")
    total = sum(person.points for person in people)
    if total <= 0:
        raise ValueError("at least one claimant needs points")
    cents = pool_cents(pool)
    floors = {person.key: cents * person.points // total for person in people}
    remainders = {person.key: cents * person.points % total for person in people}
    leftover = cents - sum(floors.values())
    ordered = sorted(people, key=lambda person: _tie_key(person, remainders[person.key]))
    allocations = []
    for rank, person in enumerate(ordered, start=1):
        gets_cent = rank <= leftover
        quota = (Decimal(cents * person.points) / Decimal(total) / 100).quantize(QUOTA_PLACES)
        amount = (Decimal(floors[person.key] + (1 if gets_cent else 0)) / 100).quantize(CENT)
        allocations.append(Allocation(person.key, person.points, quota, amount, gets_cent, rank))
    return allocations
