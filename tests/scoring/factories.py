"""Scoring test helpers: proofs appended to the real ledger and won deals created directly.

Every proof gets its own subject row (a Contact of the customer), because the ledger is idempotent
per (kind, subject): the same subject twice would be the same proof.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from leads.cash.models import Deal, DealStatus
from salesops.ledger import activity_append
from salesops.models import Activity, ActivityKind

from ..factories import ContactFactory

VISIT = {"needs_count": 1, "template_code": "medical", "is_solution_demo": False, "contact_title": "主任", "onsite": True}


def record(*, rep, kind: str, customer, at: datetime | None = None, facts: dict | None = None) -> Activity:
    """Append one proof to the ledger, `at` (default: an hour ago)."""
    subject = ContactFactory(customer=customer) if customer is not None else ContactFactory()
    return activity_append(
        rep=rep,
        kind=kind,
        customer=customer,
        subject=subject,
        occurred_at=at or timezone.now() - timedelta(hours=1),
        facts=facts or {},
    )


def visit(*, rep, customer, at=None, **facts) -> Activity:
    return record(rep=rep, kind=ActivityKind.VISIT_COMPLETED, customer=customer, at=at, facts={**VISIT, **facts})


def lead(*, rep, customer, at=None) -> Activity:
    return record(rep=rep, kind=ActivityKind.LEAD_INTRODUCED, customer=customer, at=at, facts={"source": "wechat"})


def payment(*, rep, customer, at=None, amount="5000.00", deal_id=None) -> Activity:
    """回款推动 as lead-to-cash writes it once the money is verified (T4: basis bank or finance)."""
    return record(rep=rep, kind=ActivityKind.PAYMENT_RECORDED, customer=customer, at=at, facts={"amount": amount, "deal_id": deal_id, "basis": "bank"})


def won_deal(*, customer, owner, amount="100000.00", closed_at: datetime | None = None, status=DealStatus.WON) -> Deal:
    """A won deal and its deal_won proof, as lead-to-cash would write them (`status`: a closed
    deal is frozen, T7 — a test wanting another status creates it so)."""
    deal = Deal.objects.create(
        customer=customer,
        hospital=customer.hospital,
        owner=owner,
        amount=Decimal(amount),
        status=status,
        closed_at=closed_at or timezone.now(),
        product_summary="AK-HIP-01 ×2",
    )
    activity_append(
        rep=owner,
        kind=ActivityKind.DEAL_WON,
        customer=customer,
        subject=deal,
        occurred_at=deal.closed_at,
        facts={"amount": str(deal.amount), "rep_ids": [owner.pk]},
    )
    return deal
