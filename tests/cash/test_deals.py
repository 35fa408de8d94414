"""C2: a confirmed quote becomes a won deal (hospital, products, amount, date, reps involved) with
its receivables; lost deals keep a reason; closing a deal appends to the ledger."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.cash import deals, quotes
from leads.cash.models import Deal, DealStatus, LostReason, QuoteStatus
from salesops.ledger import activity_append
from salesops.models import Activity, ActivityKind

from .helpers import make_quote, plan_of

pytestmark = pytest.mark.django_db


def _confirmed(alice, customer_a, hip, screw):
    quote, version = make_quote(customer_a, alice, [(hip, 2, "0"), (screw, 1, "0")], send=True)
    quotes.quote_version_confirm(version=version, by=alice)
    return quote, version


def test_a_confirmed_quote_becomes_a_won_deal(alice, customer_a, hip, screw):
    """C2: hospital, product models, amount = the confirmed total, date, a contract number."""
    with time_machine.travel("2026-11-20 10:00 +08:00", tick=False):
        _quote, version = _confirmed(alice, customer_a, hip, screw)
        deal = deals.deal_win(version=version, by=alice)
    assert deal.status == DealStatus.WON and deal.number == "HT202611-0001"
    assert (deal.hospital, deal.customer, deal.owner, deal.quote_version) == (customer_a.hospital, customer_a, alice, version)
    assert deal.amount == version.total == Decimal("75710.00")
    assert deal.product_summary == "AK-HIP-01 ×2, SP-PED-01"
    assert timezone.localtime(deal.closed_at).isoformat() == "2026-11-20T10:00:00+08:00"
    receivable = deal.receivables.get()
    assert (receivable.amount, receivable.due_date.isoformat()) == (deal.amount, "2027-02-18")  # 90 days


def test_reps_involved_are_those_with_activities_in_the_window_plus_the_owner(alice, bob, carol, charlie, diana, customer_a, hip, screw):
    """C2 + S3: everyone who worked the customer in the last 180 days gets credit; the director
    and old activity do not. deal_won carries the rep ids."""
    now = timezone.now()
    activity_append(rep=bob, kind=ActivityKind.CALL, customer=customer_a, occurred_at=now - timedelta(days=30))
    activity_append(rep=carol, kind=ActivityKind.VISIT_CHECKIN, customer=customer_a, occurred_at=now - timedelta(days=3))
    activity_append(rep=charlie, kind=ActivityKind.CALL, customer=customer_a, occurred_at=now - timedelta(days=200))
    activity_append(rep=diana, kind=ActivityKind.CALL, customer=customer_a, occurred_at=now - timedelta(days=1))
    _quote, version = _confirmed(alice, customer_a, hip, screw)
    deal = deals.deal_win(version=version, by=alice)
    assert set(deal.reps.values_list("username", flat=True)) == {"alice", "bob", "carol"}
    won = Activity.objects.get(kind=ActivityKind.DEAL_WON)
    assert (won.rep, won.customer, won.subject) == (alice, customer_a, deal)
    assert won.facts == {"amount": "75710.00", "rep_ids": sorted([alice.pk, bob.pk, carol.pk])}


def test_instalments_must_add_up_to_the_deal(alice, customer_a, hip, screw):
    """C2: a receivable plan that does not sum to the amount is refused; nothing is created."""
    _quote, version = _confirmed(alice, customer_a, hip, screw)
    with pytest.raises(ValidationError) as error:
        deals.deal_win(version=version, by=alice, plan=plan_of(("50000", 30), ("20000", 60)))
    assert "不等于成交金额" in str(error.value)
    assert not Deal.objects.exists()
    deal = deals.deal_win(version=version, by=alice, plan=plan_of(("25710", 60), ("50000", 30)))
    assert [(r.sequence, r.amount) for r in deal.receivables.all()] == [(1, Decimal("50000.00")), (2, Decimal("25710.00"))]


def test_equal_instalments_put_the_odd_cent_on_the_last():
    assert deals.split_evenly(Decimal("100.00"), 3) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert sum(deals.split_evenly(Decimal("75710.01"), 7)) == Decimal("75710.01")


def test_only_a_confirmed_version_wins_and_only_once(alice, customer_a, hip):
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    with pytest.raises(ValidationError):
        deals.deal_win(version=version, by=alice)
    quotes.quote_version_confirm(version=version, by=alice)
    deals.deal_win(version=version, by=alice)
    with pytest.raises(ValidationError):
        deals.deal_win(version=version, by=alice)


def test_confirm_page_confirms_and_creates_the_deal_with_instalments(client, alice, customer_a, hip):
    """C1+C2: the rep confirms on the page with a 3-instalment plan."""
    quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    response = client.post(f"/cash/quotes/{quote.pk}/confirm/", {"instalments": 3, "first_due": "2027-01-31", "months_apart": 1})
    deal = Deal.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cash/deals/{deal.pk}/"
    version.refresh_from_db()
    assert version.status == QuoteStatus.CONFIRMED
    assert [str(r.amount) for r in deal.receivables.all()] == ["10772.67", "10772.67", "10772.66"]
    assert [r.due_date.isoformat() for r in deal.receivables.all()] == ["2027-01-31", "2027-02-28", "2027-03-31"]


def test_a_lost_deal_keeps_its_reason_and_rejects_the_open_quote(client, alice, customer_a, hip):
    """C2: lost with a reason from the list plus detail; deal_lost activity; the sent version is rejected."""
    quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    reason = LostReason.objects.get(name="竞品中标")
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/lost/", {"reason": reason.pk, "detail": "对手降价 8%"})
    deal = Deal.objects.get()
    assert (deal.status, deal.lost_reason, deal.lost_reason_choice) == (DealStatus.LOST, "竞品中标：对手降价 8%", reason)
    assert deal.amount == version.total
    version.refresh_from_db()
    assert version.status == QuoteStatus.REJECTED and version.rejected_at
    lost = Activity.objects.get(kind=ActivityKind.DEAL_LOST)
    assert (lost.rep, lost.facts) == (alice, {"reason": "竞品中标：对手降价 8%"})


def test_a_lost_deal_needs_a_reason(client, alice, customer_a, hip):
    quote, _version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    response = client.post(f"/cash/quotes/{quote.pk}/lost/", {"reason": "", "detail": ""})
    assert response.status_code == 400 and "请选择或填写丢单原因" in response.content.decode()
    assert not Deal.objects.exists()
