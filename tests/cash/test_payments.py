"""C2: payments recorded by finance or a rep (回款推动 only for verified money, see test_push_credit),
progress % = paid / receivable, overdue receivables per rep and team; feeds D1 green light."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.cash import deals
from leads.cash.models import Deal, Receivable, progress_percent
from salesops.ledger import activity_append
from salesops.models import Activity, ActivityKind

from .helpers import make_won_deal, plan_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(alice, bob, customer_a, hip):
    activity_append(rep=bob, kind=ActivityKind.CALL, customer=customer_a, occurred_at=timezone.now() - timedelta(days=2))
    # 28,600 × 1.13 = 32,318.00 in three instalments
    return make_won_deal(customer_a, alice, hip, plan=plan_of(("10000", -10), ("10000", 20), ("12318", 50)))


def test_a_rep_records_a_payment_and_cannot_name_the_pusher(client, alice, bob, deal):
    """C2 + T4: alice records a payment and posts bob as the pusher: the payment is kept, waiting
    for finance, with no pusher (a rep does not choose who is credited) and no 回款推动 yet."""
    client.force_login(alice)
    first = deal.receivables.get(sequence=1)
    response = client.post(
        f"/cash/deals/{deal.pk}/payments/",
        {"receivable": first.pk, "amount": "4000.00", "received_on": timezone.localdate().isoformat(), "pushed_by": bob.pk, "reference": "回单 0001"},
    )
    assert response.status_code == 302
    payment = first.payments.get()
    assert (payment.amount, payment.pushed_by, payment.recorded_by, payment.reference) == (Decimal("4000.00"), None, alice, "回单 0001")
    assert not payment.is_verified
    first.refresh_from_db()
    assert first.paid_amount == Decimal("4000.00")
    assert not Activity.objects.filter(kind=ActivityKind.PAYMENT_RECORDED).exists()


def test_finance_records_without_a_pusher_and_nobody_is_credited(olga, deal):
    """T4: finance's own entry is approved money, but with no pusher named nobody earns 回款推动
    (not the recorder)."""
    payment = deals.payment_record(receivable=deal.receivables.get(sequence=1), amount=Decimal("10000"), received_on=timezone.localdate(), by=olga)
    assert payment.is_verified and payment.pushed_by is None
    assert not Activity.objects.filter(kind=ActivityKind.PAYMENT_RECORDED).exists()


def test_paid_amount_is_always_the_sum_of_payments(alice, deal):
    receivable = deal.receivables.get(sequence=2)
    for amount in ("1000.10", "2000.20", "0.70"):
        deals.payment_record(receivable=receivable, amount=Decimal(amount), received_on=timezone.localdate(), by=alice)
    receivable.refresh_from_db()
    assert receivable.paid_amount == Decimal("3001.00") == sum(p.amount for p in receivable.payments.all())


@pytest.mark.parametrize(
    ("amount", "received", "field", "message"),
    [
        ("10000.01", 0, "amount", "超过该期未收金额"),
        ("0", 0, "amount", "必须大于 0"),
        ("10.00", 2, "received_on", "不能晚于今天"),
    ],
)
def test_bad_payments_are_refused_with_the_reason(alice, deal, amount, received, field, message):
    with pytest.raises(ValidationError) as error:
        deals.payment_record(
            receivable=deal.receivables.get(sequence=1), amount=Decimal(amount), received_on=timezone.localdate() + timedelta(days=received), by=alice
        )
    assert message in " ".join(error.value.message_dict[field])
    assert not Activity.objects.filter(kind=ActivityKind.PAYMENT_RECORDED).exists()


def test_progress_is_paid_over_receivable_rounded_down(alice, deal):
    """C2: 0 % → 30 % (9,695.40 of 32,318) → 89 % at 89.99 % (never a premature green) → 100 %."""
    assert deals.deal_progress(deal)["percent"] == 0
    first, second, third = deal.receivables.all()
    deals.payment_record(receivable=first, amount=Decimal("9695.40"), received_on=timezone.localdate(), by=alice)
    assert deals.deal_progress(deal)["percent"] == 30
    deals.payment_record(receivable=first, amount=Decimal("304.60"), received_on=timezone.localdate(), by=alice)
    deals.payment_record(receivable=second, amount=Decimal("10000"), received_on=timezone.localdate(), by=alice)
    deals.payment_record(receivable=third, amount=Decimal("9082.96"), received_on=timezone.localdate(), by=alice)
    progress = deals.deal_progress(deal)
    assert progress["paid"] == Decimal("29082.96") and progress["percent"] == 89
    assert progress_percent(Decimal("29082.96"), Decimal("32318.00")) == 89
    assert not Deal.objects.paid_at_least().exists()
    deals.payment_record(receivable=third, amount=Decimal("3235.04"), received_on=timezone.localdate(), by=alice)
    assert deals.deal_progress(deal)["percent"] == 100


def test_green_light_is_won_deals_paid_at_least_90_percent(alice, customer_a, hip):
    """D1 green light (fed by C2): sum(paid)/sum(amount) over the deal's receivables ≥ 90 %."""
    paid = make_won_deal(customer_a, alice, hip, plan=plan_of(("30000", 10), ("2318", 40)))
    almost = make_won_deal(customer_a, alice, hip, plan=plan_of(("32318", 10)))
    deals.payment_record(receivable=paid.receivables.get(sequence=1), amount=Decimal("30000"), received_on=timezone.localdate(), by=alice)
    deals.payment_record(receivable=almost.receivables.get(), amount=Decimal("29086.19"), received_on=timezone.localdate(), by=alice)  # 89.999…%
    assert list(Deal.objects.paid_at_least(Decimal("0.9"))) == [paid]


def test_the_payment_fragment_moves_the_progress_bar(client, alice, deal):
    """C2 htmx: posting a payment returns the payments fragment with the new percentage."""
    client.force_login(alice)
    first = deal.receivables.get(sequence=1)
    response = client.post(
        f"/cash/deals/{deal.pk}/payments/",
        {"receivable": first.pk, "amount": "10000", "received_on": timezone.localdate().isoformat()},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'data-percent="30"' in body and "10,000.00" in body
    response = client.get(f"/cash/deals/{deal.pk}/", headers={"HX-Request": "true"})
    assert "<html" not in response.content.decode() and 'id="deal-payments"' in response.content.decode()


def test_a_bad_payment_on_the_page_names_the_field(client, alice, deal):
    client.force_login(alice)
    first = deal.receivables.get(sequence=1)
    response = client.post(f"/cash/deals/{deal.pk}/payments/", {"receivable": first.pk, "amount": "99999", "received_on": timezone.localdate().isoformat()})
    assert response.status_code == 400 and "超过该期未收金额" in response.content.decode()


def test_who_may_see_and_record_payments(client, alice, bob, carol, charlie, dave, deal):
    """A3: another team's rep and supervisor get 404; a later collaborator may look but not record (403)."""
    url = f"/cash/deals/{deal.pk}/payments/"
    data = {"receivable": deal.receivables.first().pk, "amount": "1", "received_on": timezone.localdate().isoformat()}
    for user in (charlie, dave):
        client.force_login(user)
        assert client.get(f"/cash/deals/{deal.pk}/").status_code == 404
        assert client.post(url, data).status_code == 404
    deal.reps.remove(bob)  # bob worked the customer but is not on this deal
    client.force_login(bob)
    assert client.get(f"/cash/deals/{deal.pk}/").status_code == 200
    assert client.post(url, data).status_code == 403
    client.force_login(carol)
    assert client.post(url, data).status_code == 302


def test_overdue_receivables_per_rep_and_team(client, alice, bob, carol, charlie, dave, diana, customer_a, customer_b, hip):
    """C2: instalments past due and not fully paid, summed per deal owner and per team, in scope."""
    with time_machine.travel("2026-09-01 10:00 +08:00", tick=False):
        a1 = make_won_deal(customer_a, alice, hip, plan=plan_of(("16159", 10), ("16159", 40)))
        make_won_deal(customer_b, charlie, hip, plan=plan_of(("32318", 20)))
    with time_machine.travel("2026-09-05 10:00 +08:00", tick=False):
        deals.payment_record(receivable=a1.receivables.get(sequence=1), amount=Decimal("16159"), received_on=date(2026, 9, 5), by=alice)
    with time_machine.travel("2026-10-20 10:00 +08:00", tick=False):
        summary = deals.overdue_summary(Receivable.objects.overdue())
        assert [(row["deal__owner__username"], row["count"], row["outstanding"]) for row in summary["per_rep"]] == [
            ("charlie", 1, Decimal("32318.00")),
            ("alice", 1, Decimal("16159.00")),
        ]
        assert [(row["deal__owner__rep__team__name"], row["outstanding"]) for row in summary["per_team"]] == [
            ("宁波一组", Decimal("32318.00")),
            ("杭州一组", Decimal("16159.00")),
        ]
        client.force_login(carol)
        page = client.get("/cash/overdue/").content.decode()
        assert "杭州一组" in page and "宁波一组" not in page and "16,159.00" in page
        client.force_login(diana)
        page = client.get("/cash/overdue/").content.decode()
        assert "杭州一组" in page and "宁波一组" in page
        client.force_login(alice)
        assert "宁波" not in client.get("/cash/overdue/").content.decode()


def test_lists_run_in_constant_queries(client, django_assert_max_num_queries, alice, customer_a, hip):
    """Habit 5: the deal, receivable and overdue lists do not grow queries with rows."""
    for _ in range(6):
        make_won_deal(customer_a, alice, hip, plan=plan_of(("16159", -5), ("16159", 25)))
    client.force_login(alice)
    for url in ("/cash/deals/", "/cash/receivables/", "/cash/overdue/", "/cash/"):
        with django_assert_max_num_queries(14):
            assert client.get(url).status_code == 200
