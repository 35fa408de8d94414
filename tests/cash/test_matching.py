"""C3: automatic matching proposes, a person confirms. A unique exact amount from a known payer in
the date window is a high-confidence proposal; everything else — ambiguous, partial, combined,
unknown payer — is ranked by payer name, memo reference and amount and waits for review."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.cash.matching import normalise_name, references_in
from leads.cash.models import MatchProposal, PayerAlias, Payment, ProposalStatus, RowStatus, StatementRow
from salesops.models import Activity, ActivityKind

from .helpers import make_won_deal, plan_of
from .statement_files import Line, corporate_csv

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("浙江省人民医院", "浙江省人民医院（财务处）"),
        ("浙江省人民医院", "浙江省人民医院财务科"),
        ("杭州康复医疗器械有限公司", "杭州康复医疗器械有限责任公司"),
        ("浙江省人民医院", "浙江省 人民医院"),
        ("ABC医疗科技股份有限公司", "ＡＢＣ医疗科技有限公司"),
        ("宁波市第一医院", "宁波市第一医院(本部)"),
    ],
)
def test_payer_names_are_normalised(left, right):
    """C3: full/half width, spaces, brackets and 有限公司/医院/财务处 noise do not matter."""
    assert normalise_name(left) == normalise_name(right) != ""


def test_different_hospitals_stay_different():
    assert normalise_name("杭州市第一人民医院") != normalise_name("杭州市第二人民医院")


def test_quote_and_deal_numbers_are_found_in_memos():
    assert references_in("货款 ht202611 0003 及 QT-202610-0012") == {"HT202611-0003", "QT202610-0012"}
    assert references_in("HT2026110003") == {"HT202611-0003"}


@pytest.fixture
def owed(alice, customer_a, hip):
    """浙江省人民医院 owes 32,318.00 due in 10 days."""
    return make_won_deal(customer_a, alice, hip, plan=plan_of(("32318", 10)))


def _import(upload, olga, account, *lines):
    statement = upload(olga, account, "流水.csv", corporate_csv(list(lines)))
    assert statement.status == "done", statement.error
    return list(StatementRow.objects.filter(statement=statement).order_by("line_number"))


def today():
    return timezone.localdate()


def test_unique_exact_amount_from_a_known_payer_is_proposed_with_high_confidence(upload, olga, account, owed):
    """C3 (done-when): the hospital pays exactly what is owed → one high-confidence proposal.
    Nothing is recorded until a person confirms."""
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("32318.00"), payer="浙江省人民医院（财务处）", reference="R1"))
    assert row.status == RowStatus.PROPOSED
    (proposal,) = row.match_proposals.all()
    assert (proposal.kind, proposal.confidence, proposal.score) == ("exact", "high", 100)
    assert [(a.receivable_id, a.amount) for a in proposal.allocations.all()] == [(owed.receivables.get().pk, Decimal("32318.00"))]
    assert any("已知付款方" in reason for reason in proposal.reasons)
    assert not Payment.objects.exists()


def test_confirming_records_the_payment_and_its_activity(client, upload, olga, alice, account, owed):
    """C3: a person confirms → Payment (pushed by the deal owner) + payment_recorded; the row is
    used once; the other proposals are closed."""
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("32318.00"), payer="浙江省人民医院", reference="R1"))
    proposal = row.match_proposals.get()
    client.force_login(olga)
    response = client.post(f"/cash/review/{row.pk}/confirm/", {"proposal": proposal.pk})
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert (payment.amount, payment.received_on, payment.pushed_by, payment.recorded_by, payment.statement_row, payment.reference) == (
        Decimal("32318.00"), today(), alice, olga, row, "R1"
    )
    activity = Activity.objects.get(kind=ActivityKind.PAYMENT_RECORDED)
    assert activity.rep == alice and {k: activity.facts[k] for k in ("amount", "deal_id", "basis")} == {"amount": "32318.00", "deal_id": owed.pk, "basis": "bank"}
    row.refresh_from_db()
    proposal.refresh_from_db()
    assert (row.status, row.decided_by, proposal.status) == (RowStatus.MATCHED, olga, ProposalStatus.CONFIRMED)
    assert client.post(f"/cash/review/{row.pk}/confirm/", {"proposal": proposal.pk}).status_code == 404
    assert Payment.objects.count() == 1


def test_an_unknown_payer_is_learned_when_a_person_confirms(client, upload, olga, account, alice, customer_a, hip):
    """C3: `省人民医院骨科采购办` is not recognised the first time; confirming teaches it, so the
    next payment from that name is a high-confidence proposal."""
    deal = make_won_deal(customer_a, alice, hip, plan=plan_of(("16159", 5), ("16159", 35)))
    first, second = deal.receivables.all()
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("16159.00"), payer="省人民医院骨科采购办", reference="R1"))
    assert row.status == RowStatus.REVIEW
    client.force_login(olga)
    client.post(
        f"/cash/review/{row.pk}/allocate/",
        {"alloc-TOTAL_FORMS": 3, "alloc-INITIAL_FORMS": 0, "alloc-0-receivable": first.pk, "alloc-0-amount": "16159.00"},
    )
    alias = PayerAlias.objects.get()
    assert (alias.payer_name, alias.hospital, alias.learned) == ("省人民医院骨科采购办", customer_a.hospital, True)
    (later,) = _import(upload, olga, account, Line(today() + timedelta(days=1), credit=Decimal("16159.00"), payer="省人民医院骨科采购办", reference="R2"))
    assert later.status == RowStatus.PROPOSED
    assert later.match_proposals.get().allocations.get().receivable == second


def test_the_same_amount_owed_twice_resolves_to_the_earliest_due_instalment(upload, olga, account, alice, customer_a, hip, owed):
    """C7: equal instalments of a known payer → one high-confidence proposal, the earliest due open
    instalment (the reasons say another one has the same amount)."""
    other = make_won_deal(customer_a, alice, hip, plan=plan_of(("32318", 20)))
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("32318.00"), payer="浙江省人民医院", reference="R1"))
    assert row.status == RowStatus.PROPOSED
    proposal = row.match_proposals.get()
    earliest = min([owed.receivables.get(), other.receivables.get()], key=lambda r: r.due_date)
    assert proposal.confidence == "high" and proposal.allocations.get().receivable == earliest
    assert any("同额" in reason for reason in proposal.reasons)


def test_a_partial_payment_goes_to_review(upload, olga, account, owed):
    """C3: 20,000 of 32,318 → a partial proposal in the review queue."""
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("20000.00"), payer="浙江省人民医院", reference="R1"))
    assert row.status == RowStatus.REVIEW
    best = row.match_proposals.order_by("rank").first()
    assert best.kind == "partial" and best.allocations.get().amount == Decimal("20000.00")


def test_a_combined_payment_goes_to_review_and_confirms_as_two_payments(client, upload, olga, account, alice, customer_a, hip):
    """C3 (done-when): one transfer paying two instalments of two deals → a combined proposal in
    review; confirming it records two payments and two activities."""
    first = make_won_deal(customer_a, alice, hip, plan=plan_of(("16159", -20), ("16159", 40)))
    second = make_won_deal(customer_a, alice, hip, plan=plan_of(("32318", 5)))
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("48477.00"), payer="浙江省人民医院", memo="两笔货款", reference="R9"))
    assert row.status == RowStatus.REVIEW
    combined = row.match_proposals.get(kind="combined", rank=1)
    allocations = {(a.receivable.deal_id, a.receivable.sequence, a.amount) for a in combined.allocations.all()}
    assert allocations == {(first.pk, 1, Decimal("16159.00")), (second.pk, 1, Decimal("32318.00"))}
    client.force_login(olga)
    client.post(f"/cash/review/{row.pk}/confirm/", {"proposal": combined.pk})
    assert Payment.objects.filter(statement_row=row).count() == 2
    assert Activity.objects.filter(kind=ActivityKind.PAYMENT_RECORDED).count() == 2


def test_a_deal_number_in_the_memo_wins(upload, olga, account, alice, charlie, customer_a, customer_b, hip):
    """C7: a distributor pays for the hospital and writes our contract number in the 附言 → that
    deal, high confidence, even though another deal has the same amount."""
    make_won_deal(customer_a, alice, hip, plan=plan_of(("32318", 10)))
    named = make_won_deal(customer_b, charlie, hip, plan=plan_of(("32318", 10)))
    (row,) = _import(
        upload, olga, account,
        Line(today(), credit=Decimal("32318.00"), payer="浙江康联医药有限公司", memo="代付货款", note=f"合同{named.number}", reference="R1"),
    )
    assert row.status == RowStatus.PROPOSED
    best = row.match_proposals.order_by("rank").first()
    assert best.confidence == "high" and best.allocations.get().receivable.deal == named
    assert any(named.number in reason for reason in best.reasons)


def test_a_payment_far_outside_the_window_is_not_high_confidence(upload, olga, account, owed):
    due = owed.receivables.get().due_date
    (row,) = _import(upload, olga, account, Line(due - timedelta(days=90), credit=Decimal("32318.00"), payer="浙江省人民医院", reference="R1"))
    assert row.status == RowStatus.REVIEW
    assert any("窗口" in reason for reason in row.match_proposals.first().reasons)


def test_money_out_is_not_matched(upload, olga, account, owed):
    (row,) = _import(upload, olga, account, Line(today(), debit=Decimal("32318.00"), payer="浙江省人民医院", reference="R1"))
    assert row.status == RowStatus.OUTGOING and not row.match_proposals.exists()


def test_manual_allocation_cannot_exceed_the_row(client, upload, olga, account, owed):
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("100.00"), payer="某某公司", reference="R1"))
    client.force_login(olga)
    response = client.post(
        f"/cash/review/{row.pk}/allocate/",
        {"alloc-TOTAL_FORMS": 3, "alloc-INITIAL_FORMS": 0, "alloc-0-receivable": owed.receivables.get().pk, "alloc-0-amount": "150.00"},
    )
    assert response.status_code == 400 and "超过流水未分配金额" in response.content.decode()
    assert not Payment.objects.exists()


def test_a_row_that_is_not_a_payment_is_ignored(client, upload, olga, account, owed):
    (row,) = _import(upload, olga, account, Line(today(), credit=Decimal("0.35"), payer="工商银行", memo="结息", reference="R1"))
    client.force_login(olga)
    client.post(f"/cash/review/{row.pk}/ignore/")
    row.refresh_from_db()
    assert row.status == RowStatus.IGNORED
    assert not MatchProposal.objects.filter(row=row, status=ProposalStatus.OPEN).exists()


def test_the_review_queue_is_scoped_and_runs_in_constant_queries(client, django_assert_max_num_queries, upload, olga, alice, carol, dave, account, owed):
    """A3: finance sees every row; carol sees rows proposing her team's receivables; dave does not; reps get 404."""
    rows = _import(
        upload, olga, account,
        *[Line(today() - timedelta(days=n), credit=Decimal("32318.00") - n, payer="浙江省人民医院", reference=f"R{n}") for n in range(8)],
    )
    client.force_login(carol)
    with django_assert_max_num_queries(16):
        page = client.get("/cash/review/").content.decode()
    assert all(f'id="row-{row.pk}"' in page for row in rows)
    assert client.get(f"/cash/review/{rows[0].pk}/").status_code == 200
    client.force_login(dave)
    assert 'id="row-' not in client.get("/cash/review/").content.decode()
    assert client.get(f"/cash/review/{rows[0].pk}/").status_code == 404
    client.force_login(alice)
    assert client.get("/cash/review/").status_code == 404
    client.force_login(olga)
    with django_assert_max_num_queries(16):
        assert client.get("/cash/review/").status_code == 200
    assert client.get("/cash/review/badge/").content == str(len(rows)).encode()


def test_matching_a_demo_size_statement_costs_a_fixed_number_of_queries(django_assert_max_num_queries, olga, account, owed):
    """Habit 5: the matcher loads open receivables and aliases once, whatever the file size."""
    from django.core.files.base import ContentFile

    from leads.cash.models import BankStatement
    from leads.cash.statements import statement_import

    statement = BankStatement(account=account, original_name="big.csv", uploaded_by=olga)
    lines = [Line(date(2026, 1, 1) + timedelta(days=n % 300), credit=Decimal(100 + n), payer=f"医院{n % 40}", reference=f"B{n}") for n in range(400)]
    statement.file.save("big.csv", ContentFile(corporate_csv(lines)), save=True)
    with django_assert_max_num_queries(40):
        statement_import(statement.pk)
    assert StatementRow.objects.count() == 400
