"""Issue 12, attack "in admin / the shell, rewrite a frozen record" (T7): every write path to a
frozen money or rules record — instance save(), instance delete(), QuerySet.update(), delete(),
bulk_update(), admin change/delete/history forms, the real pages — refuses; the legitimate
service paths (revision to a new version, verification, reversal, settlement, a finance
correction with a reason) keep working and leave history.

alice rep (team A), carol supervisor A, diana director, olga ops (finance).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from leads.cash import deals as cash_deals
from leads.cash import quotes as cash_quotes
from leads.cash.models import Deal, Payment, QuoteLine, QuoteStatus, QuoteVersion, Receivable, ReceivableFrozen
from leads.models import AssignmentRules, RulesStatus
from leads.services import rules_create_draft, rules_initial, rules_publish
from simple_history.admin import SimpleHistoryAdmin

from salesops.admin import HistoryAdmin
from salesops.guards import RecordIsFrozen
from visits.models import TaskIsFrozen, VisitTask

from ..cash.helpers import make_quote, make_won_deal
from ..factories import CustomerFactory, ProductFactory


@pytest.fixture
def product(db):
    return ProductFactory(list_price=Decimal("10000.00"))


@pytest.fixture
def money(alice, olga, product):
    """A won deal of ¥10,000 in one instalment with ¥4,000 finance recorded (verified)."""
    deal = make_won_deal(CustomerFactory(owner=alice), alice, product)
    receivable = deal.receivables.get()
    payment = cash_deals.payment_record(receivable=receivable, amount=Decimal("4000.00"), received_on=timezone.localdate(), by=olga)
    return deal, receivable, payment


# --- Admin: history is read-only on every registered model ------------------------------------------


def test_every_registered_model_refuses_a_history_form_post(client, olga):
    """T7: for every model in admin.site._registry — an admin with simple_history's views is the
    read-only HistoryAdmin (no revert button, the history form answers 405 to POST, tried on a
    real history row where one exists); any other admin has no history form URL at all."""
    client.force_login(olga)
    request = RequestFactory().get("/")
    request.user = olga
    tracked = 0
    reverse("admin:index")  # loads the URLconf, which registers every admin
    for model, model_admin in list(admin.site._registry.items()):
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history"
        if isinstance(model_admin, SimpleHistoryAdmin):
            assert isinstance(model_admin, HistoryAdmin), f"{model.__name__} history is editable in admin"
            assert model_admin.revert_disabled(request), model
            record = model.history.order_by("history_id").first()
            args = [record.instance.pk, record.history_id] if record is not None else [1, 1]
            response = client.post(reverse(name, args=args), {})
            assert response.status_code == 405, model
            tracked += 1
        else:
            with pytest.raises(NoReverseMatch):
                reverse(name, args=[1, 1])
    assert tracked >= 30


def test_posting_an_old_version_of_each_frozen_money_record_changes_nothing(client, olga, alice, money, product):
    """T7: the revert form of a deal, a payment and a sent quote version, posted with the old
    (draft / unpaid) values as ops, changes nothing (instalments are only an inline of the deal)."""
    deal, receivable, payment = money
    client.force_login(olga)
    version = deal.quote_version
    for obj, data in (
        (version, {"status": "draft", "total": "999999.99"}),
        (deal, {"amount": "1.00"}),
        (payment, {"amount": "999999.99"}),
    ):
        first = obj.history.order_by("history_id").first()
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_simple_history", args=[obj.pk, first.history_id])
        assert client.post(url, data).status_code == 405
    version.refresh_from_db()
    assert version.status == QuoteStatus.CONFIRMED and version.total == Decimal("11300.00")
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("11300.00")
    assert Receivable.objects.get(pk=receivable.pk).paid_amount == Decimal("4000.00")
    assert Payment.objects.get(pk=payment.pk).amount == Decimal("4000.00")


# --- Quote versions and their lines -------------------------------------------------------------------


def test_a_sent_quote_version_refuses_every_bulk_door_and_delete(alice, customer, product):
    """T7: a sent version's total cannot be rewritten by QuerySet.update()/bulk_update(), and it is
    never deleted (instance or queryset); revising it makes a new draft version (the service)."""
    quote, version = make_quote(customer, alice, [(product, 1, "0")], send=True)
    with pytest.raises(RecordIsFrozen):
        QuoteVersion.objects.filter(pk=version.pk).update(total=Decimal("999999.99"))
    version.total = Decimal("999999.99")
    with pytest.raises(RecordIsFrozen):
        QuoteVersion.objects.bulk_update([version], ["total"])
    with pytest.raises(RecordIsFrozen):
        QuoteVersion.objects.filter(pk=version.pk).delete()
    with pytest.raises(RecordIsFrozen):
        QuoteVersion.objects.get(pk=version.pk).delete()
    with pytest.raises(RecordIsFrozen):
        QuoteVersion.objects.filter(quote=quote).update(status=QuoteStatus.DRAFT)
    assert QuoteVersion.objects.get(pk=version.pk).total == Decimal("11300.00")

    draft = cash_quotes.quote_revise(quote=quote, by=alice)  # the legitimate path: a new version
    assert (draft.version, draft.status, draft.lines.count()) == (2, QuoteStatus.DRAFT, 1)
    QuoteVersion.objects.filter(pk=draft.pk).update(note="草稿可改")  # a draft is not frozen


def test_the_lines_of_a_sent_version_refuse_change_by_every_path(client, alice, customer, product):
    """T7: a line of a sent version refuses save() (changed quantity, moved to another version),
    delete(), a new line added to the version, QuerySet.update()/delete()/bulk_update(); the
    quote page's line form answers with a message, and the lines stay as sent."""
    quote, version = make_quote(customer, alice, [(product, 2, "0")], send=True)
    line = version.lines.get()
    line.quantity = 200
    with pytest.raises(RecordIsFrozen):
        line.save()
    line = QuoteLine.objects.get(pk=line.pk)
    with pytest.raises(RecordIsFrozen):
        line.delete()
    with pytest.raises(RecordIsFrozen):
        QuoteLine.objects.filter(version=version).update(unit_price=Decimal("0.01"))
    line.unit_price = Decimal("0.01")
    with pytest.raises(RecordIsFrozen):
        QuoteLine.objects.bulk_update([line], ["unit_price"])
    with pytest.raises(RecordIsFrozen):
        QuoteLine.objects.filter(pk=line.pk).delete()
    with pytest.raises(RecordIsFrozen):
        QuoteLine.objects.create(version=version, product=product, quantity=1, unit_price=Decimal("1.00"))
    draft = cash_quotes.quote_revise(quote=quote, by=alice)
    moved = QuoteLine.objects.get(pk=line.pk)
    moved.version = draft
    with pytest.raises(RecordIsFrozen):
        moved.save()  # leaving a sent version is a change of the sent version

    client.force_login(alice)
    sent_line = version.lines.get()
    response = client.post(reverse("cash:line_update", args=[quote.pk, sent_line.pk]), {"quantity": "99", "discount_percent": "0", "tax_rate_percent": "13"})
    assert response.status_code in (200, 400, 404)
    assert QuoteLine.objects.get(pk=sent_line.pk).quantity == 2 and version.lines.count() == 1
    draft_line = draft.lines.get()
    cash_quotes.quote_line_update(line=draft_line, by=alice, quantity=3, discount_percent=Decimal("0"), tax_rate_percent=Decimal("13"))
    assert QuoteLine.objects.get(pk=draft_line.pk).quantity == 3  # the draft's lines still edit


# --- Deals --------------------------------------------------------------------------------------------


def test_a_won_deal_keeps_its_money_and_parties_by_every_path(alice, bob, carol, olga, money):
    """T7: a closed deal's amount, owner, status and close time refuse save(), QuerySet.update(),
    bulk_update(); a deal is never deleted. The milestone dates still move (C6)."""
    deal, _receivable, _payment = money
    for field, value in (("amount", Decimal("1.00")), ("owner", bob), ("status", "lost"), ("closed_at", timezone.now())):
        fresh = Deal.objects.get(pk=deal.pk)
        setattr(fresh, field, value)
        with pytest.raises(RecordIsFrozen):
            fresh.save()
    with pytest.raises(RecordIsFrozen):
        Deal.objects.filter(pk=deal.pk).update(amount=Decimal("1.00"))
    deal.amount = Decimal("1.00")
    with pytest.raises(RecordIsFrozen):
        Deal.objects.bulk_update([deal], ["amount"])
    with pytest.raises(RecordIsFrozen):
        Deal.objects.get(pk=deal.pk).delete()
    with pytest.raises(RecordIsFrozen):
        Deal.objects.filter(pk=deal.pk).delete()
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("11300.00")
    today = timezone.localdate()
    cash_deals.deal_milestones_set(deal=Deal.objects.get(pk=deal.pk), by=carol, delivered_on=today, accepted_on=None)
    assert Deal.objects.get(pk=deal.pk).delivered_on == today


def test_only_finance_corrects_a_deal_amount_with_a_reason_before_money_arrives(alice, carol, olga, customer, product):
    """T7: the one way to change a won deal's amount: finance, with a reason kept in the history,
    while no payment exists. A rep or a supervisor cannot; nobody can once money arrived."""
    deal = make_won_deal(customer, alice, product)
    for who in (alice, carol):
        with pytest.raises(ValidationError):
            cash_deals.deal_amount_correct(deal=deal, amount=Decimal("1.00"), reason="手滑", by=who)
    with pytest.raises(ValidationError):
        cash_deals.deal_amount_correct(deal=deal, amount=Decimal("12000.00"), reason=" ", by=olga)
    corrected = cash_deals.deal_amount_correct(deal=deal, amount=Decimal("12000.00"), reason="合同金额更正", by=olga)
    assert Deal.objects.get(pk=deal.pk).amount == Decimal("12000.00")
    last = corrected.history.first()
    assert (last.history_user, last.history_change_reason, last.amount) == (olga, "合同金额更正", Decimal("12000.00"))
    cash_deals.payment_record(receivable=deal.receivables.get(), amount=Decimal("100.00"), received_on=timezone.localdate(), by=olga)
    with pytest.raises(ValidationError):
        cash_deals.deal_amount_correct(deal=deal, amount=Decimal("13000.00"), reason="再改", by=olga)


# --- Receivables -------------------------------------------------------------------------------------


def test_an_instalment_with_money_refuses_every_bulk_door_and_a_typed_paid_amount(alice, olga, money):
    """T7/C6: an instalment money arrived against keeps its amount and terms by every path, its
    paid amount is the sum of its payments (never typed), and it is never deleted; the payment
    services (record, reverse) still move the paid amount."""
    _deal, receivable, payment = money
    with pytest.raises(RecordIsFrozen):
        Receivable.objects.filter(pk=receivable.pk).update(amount=Decimal("1.00"))
    with pytest.raises(RecordIsFrozen):
        Receivable.objects.filter(pk=receivable.pk).update(paid_amount=receivable.amount)  # the green light
    receivable.paid_amount = receivable.amount
    with pytest.raises(RecordIsFrozen):
        Receivable.objects.bulk_update([receivable], ["paid_amount"])
    fresh = Receivable.objects.get(pk=receivable.pk)
    fresh.paid_amount = fresh.amount
    with pytest.raises(RecordIsFrozen):
        fresh.save()
    fresh = Receivable.objects.get(pk=receivable.pk)
    fresh.amount = Decimal("1.00")
    with pytest.raises(ReceivableFrozen):
        fresh.save()
    with pytest.raises(RecordIsFrozen):
        Receivable.objects.filter(pk=receivable.pk).delete()
    with pytest.raises(ReceivableFrozen):
        Receivable.objects.get(pk=receivable.pk).delete()
    assert Receivable.objects.get(pk=receivable.pk).paid_amount == Decimal("4000.00")

    cash_deals.payment_record(receivable=receivable, amount=Decimal("1000.00"), received_on=timezone.localdate(), by=olga)
    assert Receivable.objects.get(pk=receivable.pk).paid_amount == Decimal("5000.00")
    cash_deals.payment_reverse(payment=payment, by=olga, reason="银行退票")
    assert Receivable.objects.get(pk=receivable.pk).paid_amount == Decimal("1000.00")


# --- Payments ----------------------------------------------------------------------------------------


def test_recorded_money_is_never_updated_or_deleted_and_named_once(alice, bob, carol, olga, diana, money):
    """T7/T4: a payment refuses QuerySet.update()/delete()/bulk_update() and instance delete();
    its approval and its pusher are filled once (by the services) and never renamed."""
    deal, receivable, payment = money
    deal.reps.add(bob)
    with pytest.raises(RecordIsFrozen):
        Payment.objects.filter(pk=payment.pk).update(pushed_by=alice)
    with pytest.raises(RecordIsFrozen):
        Payment.objects.filter(receivable=receivable).update(amount=Decimal("999999.99"))
    payment.reference = "改写"
    with pytest.raises(RecordIsFrozen):
        Payment.objects.bulk_update([payment], ["reference"])
    with pytest.raises(RecordIsFrozen):
        Payment.objects.filter(pk=payment.pk).delete()
    with pytest.raises(RecordIsFrozen):
        Payment.objects.get(pk=payment.pk).delete()

    fresh = Payment.objects.get(pk=payment.pk)
    fresh.approved_by = diana  # finance's approval is who approved: never rewritten
    with pytest.raises(RecordIsFrozen):
        fresh.save()
    cash_deals.payment_verify(payment=payment, by=carol, pushed_by=alice)  # the service names the pusher once
    fresh = Payment.objects.get(pk=payment.pk)
    assert (fresh.pushed_by, fresh.pusher_named_by) == (alice, carol)
    fresh.pushed_by = bob
    with pytest.raises(RecordIsFrozen):
        fresh.save()
    fresh = Payment.objects.get(pk=payment.pk)
    fresh.approved_at = None
    with pytest.raises(RecordIsFrozen):
        fresh.save()
    assert Payment.objects.filter(receivable=receivable).count() == 1


def test_admin_cannot_change_or_delete_money_records(client, olga, money):
    """T7: ops in admin — the change form and the delete_selected action of payments, deals and
    instalments change nothing (read-only admins), and never answer 500."""
    deal, receivable, payment = money
    client.force_login(olga)
    for obj, data in ((payment, {"amount": "1.00"}), (deal, {"amount": "1.00", "receivables-0-paid_amount": "11300.00"})):
        opts = obj._meta
        change = client.post(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]), data)
        assert change.status_code in (302, 403), obj
        delete = client.post(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )
        assert delete.status_code in (200, 302, 403), obj
        assert type(obj).objects.filter(pk=obj.pk).exists()
    assert Payment.objects.get(pk=payment.pk).amount == Decimal("4000.00")
    assert Receivable.objects.get(pk=receivable.pk).paid_amount == Decimal("4000.00")


# --- Published assignment rules ----------------------------------------------------------------------


def test_published_rules_refuse_bulk_doors_delete_and_coming_back(client, olga, diana):
    """T7: the live version refuses QuerySet.update() (back to draft, new weights), bulk_update(),
    delete() — also admin's delete_selected; a retired version never goes live again. A draft is
    still edited and published by the service."""
    live = AssignmentRules.live()
    with pytest.raises(RecordIsFrozen):
        AssignmentRules.objects.filter(pk=live.pk).update(status=RulesStatus.DRAFT)
    with pytest.raises(RecordIsFrozen):
        AssignmentRules.objects.filter(status=RulesStatus.LIVE).update(weight_grade=99)
    live.weight_grade = 99
    with pytest.raises(RecordIsFrozen):
        AssignmentRules.objects.bulk_update([live], ["weight_grade"])
    with pytest.raises(RecordIsFrozen):
        AssignmentRules.objects.filter(pk=live.pk).delete()
    with pytest.raises(RecordIsFrozen):
        AssignmentRules.objects.get(pk=live.pk).delete()
    client.force_login(olga)
    response = client.post(
        reverse("admin:leads_assignmentrules_changelist"), {"action": "delete_selected", "_selected_action": [live.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302, 403)
    assert AssignmentRules.objects.get(pk=live.pk).status == RulesStatus.LIVE

    draft = rules_create_draft(by=olga, **{**rules_initial(live), "weight_grade": 50})
    AssignmentRules.objects.filter(pk=draft.pk).update(note="草稿")  # a draft is not frozen
    published = rules_publish(rules=draft, by=olga)
    assert published.status == RulesStatus.LIVE
    retired = AssignmentRules.objects.get(pk=live.pk)
    assert retired.status == RulesStatus.RETIRED
    retired.status = RulesStatus.LIVE
    with pytest.raises(RecordIsFrozen):
        retired.save()


# --- Visit tasks ---------------------------------------------------------------------------------------


def test_visit_tasks_are_never_deleted_in_bulk(alice, customer):
    """T7: VisitTask.objects.filter(...).delete() refuses like the instance delete (cancel instead)."""
    with pytest.raises(TaskIsFrozen):
        VisitTask.objects.filter(rep=alice).delete()


# --- The other money and proof records ---------------------------------------------------------------


def test_a_typed_contact_never_becomes_verified_afterwards(alice, customer):
    """T8/T7: a self-reported call cannot be flipped to verified (nor moved in time) by save() or
    QuerySet.update()/bulk_update(); its note still edits."""
    from leads.models import ContactAttempt, ContactKind, ContactVerification, Lead
    from leads.services import contact_attempt_record

    lead = Lead.objects.create(contact_name="刘女士", phone="+8613800003333", customer=customer, assignee=alice)
    attempt = contact_attempt_record(lead=lead, kind=ContactKind.CALL, by=alice, duration_seconds=120)
    attempt.verification, attempt.proof = ContactVerification.VERIFIED, "phone_system"
    with pytest.raises(RecordIsFrozen):
        attempt.save()
    with pytest.raises(RecordIsFrozen):
        ContactAttempt.objects.filter(pk=attempt.pk).update(verification=ContactVerification.VERIFIED)
    with pytest.raises(RecordIsFrozen):
        ContactAttempt.objects.bulk_update([attempt], ["occurred_at"])
    fresh = ContactAttempt.objects.get(pk=attempt.pk)
    assert fresh.verification == ContactVerification.SELF_REPORTED
    fresh.note = "补充备注"
    fresh.save()


def test_bank_rows_credits_and_decided_approvals_refuse_change(alice, carol, olga, customer, product, money):
    """T7: an imported bank row's amount and payer never change (save, update); a push credit is
    never deleted nor un-revoked; a decided discount approval never changes."""
    from leads.cash.models import BankAccount, BankStatement, DiscountApproval, PaymentCredit, StatementRow

    account = BankAccount.objects.create(name="工行基本户", bank="icbc")
    statement = BankStatement.objects.create(account=account, file="bank-statements/x.csv", original_name="x.csv", uploaded_by=olga)
    row = StatementRow.objects.create(
        statement=statement, account=account, line_number=1, booked_on=timezone.localdate(), amount=Decimal("5000.00"),
        payer_name="浙江省人民医院", dedupe_key="k1", status="review",
    )  # fmt: skip
    row.amount = Decimal("50000.00")
    with pytest.raises(RecordIsFrozen):
        row.save()
    with pytest.raises(RecordIsFrozen):
        StatementRow.objects.filter(pk=row.pk).update(payer_name="别人")
    StatementRow.objects.filter(pk=row.pk).update(closed_reason="待核")  # handling still moves

    deal, receivable, payment = money
    credit = PaymentCredit.objects.create(receivable=receivable, payment=payment, pusher=alice, named_by=carol, basis="finance")
    with pytest.raises(RecordIsFrozen):
        credit.delete()
    with pytest.raises(RecordIsFrozen):
        PaymentCredit.objects.filter(pk=credit.pk).update(pusher=carol)
    credit.revoked_at, credit.revoked_reason = timezone.now(), "回款冲销"
    credit.save()  # revoking fills the revocation once
    credit.revoked_at, credit.revoked_reason = None, ""
    with pytest.raises(RecordIsFrozen):
        credit.save()

    _quote, version = make_quote(customer, alice, [(product, 1, "30")])
    approval = cash_quotes.discount_approval_request(version=version, by=alice, reason="大客户")
    approval = cash_quotes.discount_approval_decide(approval=approval, approve=False, by=carol, note="太低")
    approval.status = "approved"
    with pytest.raises(RecordIsFrozen):
        approval.save()
    with pytest.raises(RecordIsFrozen):
        DiscountApproval.objects.filter(pk=approval.pk).update(status="approved")
    with pytest.raises(RecordIsFrozen):
        DiscountApproval.objects.get(pk=approval.pk).delete()
