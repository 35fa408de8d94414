"""C5: a payment is reversed by a counter-entry (finance or a supervisor, with a reason) — the
original stays; progress, the overdue lists and 回款推动 follow. A bank row can be partly allocated
and shows its remainder until it is allocated, refunded or marked not ours; nothing disappears."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.cash import deals
from leads.cash.models import Payment, PaymentCredit, Receivable, RowStatus, StatementRow
from salesops.models import Activity, ActivityKind

from .helpers import make_won_deal, plan_of
from .statement_files import Line, corporate_csv

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


@pytest.fixture
def deal(alice, customer_a, hip):
    """32,318.00 in one instalment, overdue since 5 days."""
    return make_won_deal(customer_a, alice, hip, plan=plan_of(("32318", -5)))


def _bank_row(upload, olga, account, amount: str, payer="浙江省人民医院", reference="R1") -> StatementRow:
    statement = upload(olga, account, "流水.csv", corporate_csv([Line(today(), credit=Decimal(amount), payer=payer, reference=reference, account="33010000001")]))
    assert statement.status == "done", statement.error
    return StatementRow.objects.get(statement=statement)


def _allocate(client, row, receivable, amount: str):
    return client.post(
        f"/cash/review/{row.pk}/allocate/",
        {"alloc-TOTAL_FORMS": 3, "alloc-INITIAL_FORMS": 0, "alloc-0-receivable": receivable.pk, "alloc-0-amount": amount},
    )


def test_a_reversal_flows_into_progress_overdue_lists_and_points(client, upload, olga, carol, diana, alice, account, deal):
    """C5 + T5 (done-when): finance confirms the bank row (alice credited), carol reverses it with a
    reason → a counter-entry, the original kept; progress back to 0 %, the instalment is overdue
    again on /cash/overdue/ and /cash/receivables/?show=overdue, the bank row shows its remainder
    again, and a `payment_reversed` activity linked to the credit cancels alice's 回款推动."""
    receivable = deal.receivables.get()
    row = _bank_row(upload, olga, account, "32318.00")
    client.force_login(olga)
    assert client.post(f"/cash/review/{row.pk}/confirm/", {"proposal": row.match_proposals.get().pk}).status_code == 302
    payment = Payment.objects.get()
    credit = PaymentCredit.objects.get()
    earned = Activity.objects.get(kind=ActivityKind.PAYMENT_RECORDED)
    assert (earned.rep, earned.subject, earned.facts["deal_id"]) == (alice, credit, deal.pk)
    client.force_login(diana)
    assert deal.number not in client.get("/cash/overdue/").content.decode()
    assert 'data-percent="100"' in client.get(f"/cash/deals/{deal.pk}/").content.decode()

    client.force_login(carol)
    response = client.post(f"/cash/deals/{deal.pk}/payments/{payment.pk}/reverse/", {"reason": "医院退票，款项未实际到账"})
    assert response.status_code == 302
    reversal = Payment.objects.get(reverses=payment)
    assert (reversal.amount, reversal.recorded_by, reversal.reason) == (Decimal("-32318.00"), carol, "医院退票，款项未实际到账")
    assert Payment.objects.filter(pk=payment.pk, amount=Decimal("32318.00")).exists()  # the original stays
    receivable.refresh_from_db()
    assert receivable.paid_amount == Decimal("0.00")
    assert list(Receivable.objects.overdue()) == [receivable]
    client.force_login(diana)
    page = client.get(f"/cash/deals/{deal.pk}/").content.decode()
    assert 'data-percent="0"' in page and "已冲销" in page and "医院退票" in page
    assert deal.number in client.get("/cash/overdue/").content.decode()
    assert deal.number in client.get("/cash/receivables/?show=overdue").content.decode()
    row.refresh_from_db()
    assert (row.status, row.allocated_amount, row.remainder) == (RowStatus.REVIEW, Decimal("0.00"), Decimal("32318.00"))
    negative = Activity.objects.get(kind=ActivityKind.PAYMENT_REVERSED)
    assert (negative.rep, negative.subject, negative.facts["reverses_activity_id"]) == (alice, credit, earned.pk)
    assert negative.facts["reversal_payment_id"] == reversal.pk and "退票" in negative.facts["reason"]
    credit.refresh_from_db()
    assert credit.revoked_at is not None


def test_only_finance_or_a_supervisor_reverses_and_a_reason_is_required(client, alice, bob, carol, charlie, dave, olga, deal):
    """C5: the rep (own deal) gets 403, another team 404; no reason → refused; twice → refused."""
    payment = deals.payment_record(receivable=deal.receivables.get(), amount=Decimal("1000"), received_on=today(), by=olga)
    url = f"/cash/deals/{deal.pk}/payments/{payment.pk}/reverse/"
    client.force_login(alice)
    assert client.post(url, {"reason": "我录错了"}).status_code == 403
    for user in (charlie, dave):
        client.force_login(user)
        assert client.post(url, {"reason": "x"}).status_code == 404
    client.force_login(carol)
    client.post(url, {"reason": ""})
    assert not Payment.objects.filter(reverses=payment).exists()
    client.post(url, {"reason": "重复录入"})
    client.post(url, {"reason": "重复录入"})
    assert Payment.objects.filter(reverses=payment).count() == 1
    reversal = Payment.objects.get(reverses=payment)
    with pytest.raises(ValidationError):
        deals.payment_reverse(payment=reversal, by=olga, reason="冲销冲销")
    with pytest.raises(ValidationError):
        deals.payment_reverse(payment=payment, by=alice, reason="service door")


def test_a_bank_row_can_be_partly_allocated_and_shows_its_remainder(client, upload, olga, account, alice, customer_a, hip):
    """C5: ¥10,000 of a ¥50,000 row → status 部分分配 with ¥40,000 unallocated, still in the queue;
    allocating more, then refunding the rest, closes it — every step kept."""
    deal = make_won_deal(customer_a, alice, hip, plan=plan_of(("16159", 10), ("16159", 40)))
    first, second = deal.receivables.all()
    row = _bank_row(upload, olga, account, "50000.00", payer="某某医药公司")
    client.force_login(olga)
    assert _allocate(client, row, first, "10000.00").status_code == 302
    row.refresh_from_db()
    assert (row.status, row.allocated_amount, row.remainder) == (RowStatus.PARTIAL, Decimal("10000.00"), Decimal("40000.00"))
    queue = client.get("/cash/review/?show=partial").content.decode()
    assert f'id="row-{row.pk}"' in queue and "40,000.00" in queue
    assert "40,000.00" in client.get(f"/cash/review/{row.pk}/").content.decode()
    response = _allocate(client, row, second, "40000.01")
    assert response.status_code == 400 and "超过流水未分配金额" in response.content.decode()
    _allocate(client, row, second, "16159.00")
    row.refresh_from_db()
    assert row.remainder == Decimal("23841.00") and row.status == RowStatus.PARTIAL
    client.post(f"/cash/review/{row.pk}/refund/", {"reason": ""})
    row.refresh_from_db()
    assert row.status == RowStatus.PARTIAL  # a refund needs its note
    client.post(f"/cash/review/{row.pk}/refund/", {"reason": "多付部分已退回，退款流水 TK0001"})
    row.refresh_from_db()
    assert (row.status, row.closed_amount, row.remainder) == (RowStatus.REFUNDED, Decimal("23841.00"), Decimal("0.00"))
    assert f'id="row-{row.pk}"' not in client.get("/cash/review/").content.decode()
    assert Payment.objects.filter(statement_row=row).count() == 2


def test_the_remainder_can_be_marked_not_ours(client, upload, olga, account, deal):
    row = _bank_row(upload, olga, account, "50000.00", payer="某某医药公司")
    client.force_login(olga)
    _allocate(client, row, deal.receivables.get(), "32318.00")
    client.post(f"/cash/review/{row.pk}/ignore/", {"reason": "其余为代收款，非我方"})
    row.refresh_from_db()
    assert (row.status, row.allocated_amount, row.closed_amount, row.closed_reason, row.remainder) == (
        RowStatus.MATCHED, Decimal("32318.00"), Decimal("17682.00"), "其余为代收款，非我方", Decimal("0.00")
    )
    # A processed row cannot be allocated again.
    response = _allocate(client, row, deal.receivables.get(), "1.00")
    assert response.status_code == 400 and "已处理" in response.content.decode()


def test_reversing_a_bank_payment_reopens_the_row(client, upload, olga, account, carol, deal):
    """C5: the reversed part of a matched row becomes its remainder again (the row returns to the
    queue as partial/review), nothing is lost."""
    row = _bank_row(upload, olga, account, "32318.00")
    client.force_login(olga)
    client.post(f"/cash/review/{row.pk}/confirm/", {"proposal": row.match_proposals.get().pk})
    row.refresh_from_db()
    assert row.status == RowStatus.MATCHED and row.remainder == 0
    payment = Payment.objects.get()
    client.post(f"/cash/deals/{deal.pk}/payments/{payment.pk}/reverse/", {"reason": "分错医院"})
    row.refresh_from_db()
    assert row.status == RowStatus.REVIEW and row.remainder == Decimal("32318.00")
    assert f'id="row-{row.pk}"' in client.get("/cash/review/").content.decode()
    assert Payment.objects.filter(statement_row=row).count() == 2


def test_the_deal_page_runs_in_constant_queries(client, django_assert_max_num_queries, olga, deal):
    """Habit 5: the deal page with payments, reversals and credits does not grow per payment."""
    receivable = deal.receivables.get()
    for _ in range(5):
        payment = deals.payment_record(receivable=receivable, amount=Decimal("100"), received_on=today() - timedelta(days=1), by=olga)
        deals.payment_reverse(payment=payment, by=olga, reason="测试")
    client.force_login(olga)
    with django_assert_max_num_queries(40):
        assert client.get(f"/cash/deals/{deal.pk}/").status_code == 200
