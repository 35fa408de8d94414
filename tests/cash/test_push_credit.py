"""T4 (cash side): 回款推动 is written to the ledger only for money the company has — a payment
confirmed against a bank row, or approved by finance — once per instalment, at or above a
configurable share of it, to a pusher named by finance or a supervisor (never by themself).
Points are the scoring app's derivation; here we assert the Activity rows it derives from:
`payment_recorded` (positive, rep = pusher) and `payment_reversed` (negative, linked to it)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.cash import deals
from leads.cash.models import CashSettings, Payment, PaymentCredit, StatementRow
from salesops.models import Activity, ActivityKind

from .helpers import make_won_deal, plan_of
from .statement_files import Line, corporate_csv

pytestmark = pytest.mark.django_db
EARNED, REVERSED = ActivityKind.PAYMENT_RECORDED, ActivityKind.PAYMENT_REVERSED


def today():
    return timezone.localdate()


@pytest.fixture
def deal(alice, bob, carol, customer_a, hip):
    """32,318.00 = 20,000 + 12,318; alice owns it, bob is on it."""
    deal = make_won_deal(customer_a, alice, hip, plan=plan_of(("20000", 10), ("12318", 40)))
    deal.reps.add(bob)
    return deal


def _post_payment(client, deal, receivable, amount, **extra):
    return client.post(
        f"/cash/deals/{deal.pk}/payments/",
        {"receivable": receivable.pk, "amount": amount, "received_on": today().isoformat(), **extra},
    )


def test_ten_one_cent_payments_naming_oneself_earn_nothing(client, alice, olga, deal):
    """T4 attack: alice records ten ¥0.01 payments naming herself as pusher → 0 回款推动 rows.
    Even after finance approves them all they stay below the minimum share."""
    client.force_login(alice)
    first = deal.receivables.get(sequence=1)
    for _ in range(10):
        assert _post_payment(client, deal, first, "0.01", pushed_by=alice.pk).status_code == 302
    assert Payment.objects.count() == 10 and not Payment.objects.exclude(pushed_by=None).exists()
    assert not Activity.objects.filter(kind=EARNED).exists()
    with pytest.raises(ValidationError):
        deals.payment_record(receivable=first, amount=Decimal("0.01"), received_on=today(), by=alice, pushed_by=alice)
    for payment in Payment.objects.all():
        deals.payment_verify(payment=payment, by=olga, pushed_by=alice)
    assert Payment.objects.filter(approved_by=olga, pushed_by=alice).count() == 10
    assert not Activity.objects.filter(kind=EARNED).exists()


def test_a_supervisor_recording_without_a_pusher_gets_no_credit(client, carol, olga, deal):
    """T4 attack: carol records a full instalment with no pusher → no 回款推动 for carol (nor anyone),
    before or after finance approves; she cannot name herself either."""
    client.force_login(carol)
    first = deal.receivables.get(sequence=1)
    assert _post_payment(client, deal, first, "20000.00").status_code == 302
    payment = Payment.objects.get()
    assert payment.pushed_by is None and not payment.is_verified
    assert not Activity.objects.filter(kind=EARNED).exists()
    deals.payment_verify(payment=payment, by=olga)
    assert not Activity.objects.filter(kind=EARNED).exists()
    response = _post_payment(client, deal, deal.receivables.get(sequence=2), "12318.00", pushed_by=carol.pk)
    assert response.status_code == 400
    assert not Activity.objects.filter(rep=carol, kind=EARNED).exists()


def test_a_supervisor_named_pusher_earns_only_after_finance_approves(client, alice, carol, olga, deal):
    """T4: carol records 20,000 naming alice → nothing yet (a supervisor's entry is not proof of
    money); finance approves → one `payment_recorded` for alice, subject the credit."""
    client.force_login(carol)
    first = deal.receivables.get(sequence=1)
    _post_payment(client, deal, first, "20000.00", pushed_by=alice.pk)
    payment = Payment.objects.get()
    assert (payment.pushed_by, payment.pusher_named_by) == (alice, carol)
    assert not Activity.objects.filter(kind=EARNED).exists()
    client.force_login(olga)
    assert client.post(f"/cash/deals/{deal.pk}/payments/{payment.pk}/verify/").status_code == 302
    activity = Activity.objects.get(kind=EARNED)
    credit = PaymentCredit.objects.get()
    assert (activity.rep, activity.subject, credit.basis, credit.named_by) == (alice, credit, "finance", carol)
    assert activity.facts["receivable_id"] == first.pk and activity.facts["deal_id"] == deal.pk


def test_a_rep_cannot_approve_or_name_and_finance_cannot_approve_its_own_entry(client, alice, bob, olga, diana, deal):
    payment = deals.payment_record(receivable=deal.receivables.get(sequence=1), amount=Decimal("20000"), received_on=today(), by=alice)
    client.force_login(alice)
    assert client.post(f"/cash/deals/{deal.pk}/payments/{payment.pk}/verify/", {"pushed_by": bob.pk}).status_code == 403
    with pytest.raises(ValidationError):
        deals.payment_verify(payment=payment, by=alice, pushed_by=bob)
    own = deals.payment_record(receivable=deal.receivables.get(sequence=2), amount=Decimal("100"), received_on=today(), by=diana)
    assert own.is_verified  # finance's own entry is finance's approval …
    with pytest.raises(ValidationError):
        deals.payment_verify(payment=own, by=diana, pushed_by=diana)  # … but naming oneself never works
    assert not Activity.objects.filter(kind=EARNED).exists()


def test_once_per_instalment_not_per_payment(olga, alice, bob, deal):
    """T4: three approved payments on one instalment → one credit; the second instalment earns its own."""
    first, second = deal.receivables.all()
    for amount in ("8000", "7000", "5000"):
        deals.payment_record(receivable=first, amount=Decimal(amount), received_on=today(), by=olga, pushed_by=bob)
    assert Activity.objects.filter(kind=EARNED).count() == 1
    deals.payment_record(receivable=second, amount=Decimal("12318"), received_on=today(), by=olga, pushed_by=alice)
    assert [(a.rep, a.facts["receivable_id"]) for a in Activity.objects.filter(kind=EARNED).order_by("pk")] == [(bob, first.pk), (alice, second.pk)]
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentCredit.objects.create(receivable=first, payment=first.payments.first(), pusher=alice, named_by=olga, basis="finance")


def test_payments_below_the_minimum_share_do_not_score(olga, bob, deal):
    """T4: share 20 % of 20,000 = 4,000. 3,999.99 verified → nothing; one more cent → credit."""
    assert CashSettings.load().push_min_share_percent == Decimal("20.00")
    first = deal.receivables.get(sequence=1)
    deals.payment_record(receivable=first, amount=Decimal("3999.99"), received_on=today(), by=olga, pushed_by=bob)
    assert not Activity.objects.filter(kind=EARNED).exists()
    deals.payment_record(receivable=first, amount=Decimal("0.01"), received_on=today(), by=olga, pushed_by=bob)
    assert Activity.objects.filter(kind=EARNED, rep=bob).count() == 1
    settings = CashSettings.load()
    settings.push_min_share_percent = Decimal("50")
    settings.save()
    second = deal.receivables.get(sequence=2)
    deals.payment_record(receivable=second, amount=Decimal("6000"), received_on=today(), by=olga, pushed_by=bob)
    assert Activity.objects.filter(kind=EARNED).count() == 1  # 6,000 of 12,318 < 50 %


def test_a_bank_confirmed_payment_credits_the_owner_named_by_finance(client, upload, olga, account, alice, deal):
    """T4: the bank row proves the money; finance confirming names the deal owner (alice) by default."""
    statement = upload(olga, account, "流水.csv", corporate_csv([Line(today(), credit=Decimal("20000.00"), payer="浙江省人民医院", reference="R1")]))
    row = StatementRow.objects.get(statement=statement)
    client.force_login(olga)
    client.post(f"/cash/review/{row.pk}/confirm/", {"proposal": row.match_proposals.get().pk})
    activity = Activity.objects.get(kind=EARNED)
    assert (activity.rep, activity.facts["basis"], activity.facts["named_by_id"]) == (alice, "bank", olga.pk)


def test_a_supervisor_confirming_a_bank_row_on_their_own_deal_is_not_self_credited(client, upload, olga, account, carol, customer_a, hip):
    """T4: carol owns the deal and confirms its bank row: the pusher is left for finance to name."""
    deal = make_won_deal(customer_a, carol, hip, plan=plan_of(("32318", 10)))
    statement = upload(olga, account, "流水.csv", corporate_csv([Line(today(), credit=Decimal("32318.00"), payer="浙江省人民医院", reference="R1")]))
    row = StatementRow.objects.get(statement=statement)
    client.force_login(carol)
    assert client.post(f"/cash/review/{row.pk}/confirm/", {"proposal": row.match_proposals.get().pk}).status_code == 302
    payment = Payment.objects.get()
    assert payment.is_verified and payment.pushed_by is None
    assert not Activity.objects.filter(kind=EARNED).exists()
    client.force_login(olga)
    client.post(f"/cash/deals/{deal.pk}/payments/{payment.pk}/verify/", {"pushed_by": carol.pk})
    assert Activity.objects.get(kind=EARNED).rep == carol  # named by finance, not by herself


def test_reversal_of_a_credited_payment_appends_the_negative_and_a_later_payment_earns_again(olga, carol, bob, alice, deal):
    """T5: reverse the credited payment → `payment_reversed` (rep = bob, linked to the original);
    the real money later earns the instalment's credit again (for whoever finance names)."""
    first = deal.receivables.get(sequence=1)
    wrong = deals.payment_record(receivable=first, amount=Decimal("20000"), received_on=today(), by=olga, pushed_by=bob)
    earned = Activity.objects.get(kind=EARNED)
    deals.payment_reverse(payment=wrong, by=carol, reason="分错交易")
    negative = Activity.objects.get(kind=REVERSED)
    assert (negative.rep, negative.subject, negative.facts["reverses_activity_id"]) == (bob, earned.subject, earned.pk)
    deals.payment_record(receivable=first, amount=Decimal("20000"), received_on=today(), by=olga, pushed_by=alice)
    assert [a.rep for a in Activity.objects.filter(kind=EARNED).order_by("pk")] == [bob, alice]
    assert PaymentCredit.objects.filter(receivable=first, revoked_at__isnull=True).get().pusher == alice
    # Reversing an uncredited payment that drops verified money below the share revokes too.
    small = deals.payment_record(receivable=deal.receivables.get(sequence=2), amount=Decimal("1000"), received_on=today(), by=olga, pushed_by=bob)
    big = deals.payment_record(receivable=deal.receivables.get(sequence=2), amount=Decimal("2000"), received_on=today(), by=olga, pushed_by=alice)
    assert Activity.objects.filter(kind=EARNED, facts__receivable_id=big.receivable_id).get().rep == alice
    deals.payment_reverse(payment=small, by=olga, reason="重复")
    assert Activity.objects.filter(kind=REVERSED).count() == 2


def test_unverified_money_reversed_writes_nothing(olga, alice, deal):
    payment = deals.payment_record(receivable=deal.receivables.get(sequence=1), amount=Decimal("20000"), received_on=today(), by=alice)
    deals.payment_reverse(payment=payment, by=olga, reason="录错")
    assert not Activity.objects.filter(kind__in=[EARNED, REVERSED]).exists()
