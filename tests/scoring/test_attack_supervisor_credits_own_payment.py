"""Issue 12, attack "a supervisor records a payment with no pusher named, is credited 回款推动,
takes the whole pool of the next split and approves their own split" (T4, T6), replayed through
the real pages as carol (supervisor A) on alice's won deal; diana director, olga ops (finance).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.cash.models import Payment, PaymentCredit
from salesops.models import Activity, ActivityKind
from scoring.models import Behaviour, BonusSplit, Contribution, SplitStatus
from scoring.services import scoring_sweep

from ..cash.helpers import make_won_deal
from ..factories import ProductFactory
from .factories import lead as lead_proof


@pytest.fixture
def product(db):
    return ProductFactory(list_price=Decimal("10000.00"))


def test_a_supervisor_recording_money_with_no_pusher_is_never_credited(client, alice, carol, olga, customer, product):
    """T4: carol records the whole instalment with no pusher (the page), then tries to name
    herself; finance verifies it with no pusher: no 回款推动 for anybody and carol holds no share of
    alice's split — the whole pool is alice's. Ops cannot approve it (T6); carol, holding no share, can."""
    deal = make_won_deal(customer, alice, product)
    receivable = deal.receivables.get()
    client.force_login(carol)
    payments_url = reverse("cash:payment_new", args=[deal.pk])
    today = timezone.localdate().isoformat()
    client.post(payments_url, {"receivable": receivable.pk, "amount": "5000.00", "received_on": today, "reference": "主管录入"})
    payment = Payment.objects.get(receivable=receivable)
    assert (payment.recorded_by, payment.pushed_by, payment.is_verified) == (carol, None, False)

    verify_url = reverse("cash:payment_verify", args=[deal.pk, payment.pk])
    client.post(verify_url, {"pushed_by": carol.pk})  # naming herself: refused
    client.post(payments_url, {"receivable": receivable.pk, "amount": "100.00", "received_on": today, "pushed_by": carol.pk})
    assert not Payment.objects.filter(pushed_by=carol).exists()

    client.force_login(olga)
    client.post(verify_url, {})  # finance: the money is on the account, nobody named as pusher
    payment.refresh_from_db()
    assert payment.is_verified and payment.pushed_by is None
    assert not PaymentCredit.objects.exists()
    assert not Activity.objects.filter(kind=ActivityKind.PAYMENT_RECORDED).exists()

    now = timezone.now()
    lead_proof(rep=alice, customer=customer, at=now - timedelta(days=2))
    scoring_sweep()
    assert not Contribution.objects.filter(behaviour=Behaviour.PAYMENT_PUSH).exists()
    split = BonusSplit.objects.current().get(deal=deal)
    assert not split.shares.filter(rep=carol).exists()
    assert set(split.shares.values_list("rep__username", flat=True)) == {"alice"}  # the pool is alice's
    client.force_login(olga)
    assert client.post(reverse("scoring:split_approve", args=[split.pk])).status_code in (403, 404)  # ops never approves
    split.refresh_from_db()
    assert split.status == SplitStatus.DRAFT
    client.force_login(carol)  # holding no share, the supervisor may approve it (T6)
    client.post(reverse("scoring:split_approve", args=[split.pk]))
    split.refresh_from_db()
    assert (split.status, split.approved_by) == (SplitStatus.APPROVED, carol)
