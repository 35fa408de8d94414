"""Rows of the other areas, created directly through their models (contract fields only), and
ledger entries through `activity_append` — the dashboards read nothing else."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from leads.cash.models import Deal, DealStatus, Payment, Quote, QuoteStatus, QuoteVersion, Receivable
from leads.models import Lead, LeadStatus
from salesops.ledger import activity_append
from salesops.models import Activity, ActivityKind

from ..factories import CustomerFactory

_numbers = itertools.count(1)


def make_lead(*, assignee=None, status=LeadStatus.ASSIGNED, assigned_at=None, last_contact_at=None,
              first_effective_contact_at=None, customer=None, **extra) -> Lead:
    n = next(_numbers)
    customer = customer or CustomerFactory()
    return Lead.objects.create(
        contact_name=extra.pop("contact_name", f"客户{n}"),
        phone=f"+86138{n:08d}",
        customer=customer,
        hospital=customer.hospital,
        assignee=assignee,
        status=status,
        assigned_at=assigned_at,
        last_contact_at=last_contact_at,
        first_effective_contact_at=first_effective_contact_at,
        **extra,
    )


def make_quote_version(*, rep, customer=None, status=QuoteStatus.SENT, sent_at=None, total="12800.00") -> QuoteVersion:
    customer = customer or CustomerFactory()
    quote = Quote.objects.create(number=f"Q{next(_numbers):06d}", customer=customer, rep=rep)
    return QuoteVersion.objects.create(quote=quote, version=1, status=status, sent_at=sent_at, total=Decimal(total))


def make_deal(*, owner, customer=None, amount="100000.00", closed_at=None, paid=None, status=DealStatus.WON,
              product_summary="AK-HIP-01 ×2, SP-PED-01", receivables=None, recorded_by=None) -> Deal:
    """`paid` as the paid part of one receivable of `amount`, or `receivables=[(due, paid), …]`.
    Payments are recorded by the owner (who pushed them), or by `recorded_by` with no pusher."""
    customer = customer or CustomerFactory()
    deal = Deal.objects.create(
        customer=customer,
        hospital=customer.hospital,
        owner=owner,
        status=status,
        amount=Decimal(amount),
        product_summary=product_summary,
        closed_at=closed_at or timezone.now(),
    )
    rows = receivables if receivables is not None else ([(amount, paid)] if paid is not None else [])
    for sequence, (due, paid_amount) in enumerate(rows, start=1):
        receivable = Receivable.objects.create(
            deal=deal, sequence=sequence, amount=Decimal(due), due_date=deal.closed_at.date(), paid_amount=Decimal(paid_amount)
        )
        if Decimal(paid_amount):
            Payment.objects.create(
                receivable=receivable, amount=Decimal(paid_amount), received_on=deal.closed_at.date(),
                recorded_by=recorded_by or owner, pushed_by=None if recorded_by else owner,
            )
    return deal


def act(rep, at: datetime, kind: str = ActivityKind.PHOTO, n: int = 1, customer=None, facts=None) -> list[Activity]:
    """`n` ledger rows of `kind` by `rep` at `at` (no subject: each append is a new row)."""
    return [activity_append(rep=rep, kind=kind, customer=customer, occurred_at=at, facts=facts) for _ in range(n)]


def earn(rep, at: datetime, customer, points: int = 10, held: bool = False) -> Activity:
    """A scored action (scoring `Contribution`, contract fields only): `rep` earned `points` on
    `customer` at `at` — what collaboration density counts (D7). `held`: waiting for a review."""
    from scoring.models import Behaviour, Contribution, ContributionReview, ContributionRule

    activity = activity_append(rep=rep, kind=ActivityKind.LEAD_INTRODUCED, customer=customer, occurred_at=at)
    rule = ContributionRule.objects.filter(behaviour=Behaviour.LEAD_INTRODUCED).order_by("effective_from").first()
    if rule is None:
        from scoring.defaults import BEGINNING

        rule = ContributionRule.objects.create(behaviour=Behaviour.LEAD_INTRODUCED, points=points, effective_from=BEGINNING)
    row = Contribution.objects.create(
        activity=activity, behaviour=Behaviour.LEAD_INTRODUCED, rule=rule, points=points, rep=rep,
        team=getattr(getattr(rep, "rep", None), "team", None), customer=customer, occurred_at=at, held=held,
    )
    if held:
        ContributionReview.objects.create(contribution=row)
    return activity
