"""C6: milestone receivable plans (预付款/到货款/验收款/质保金) by percentage or amount with due rules
(on signing, delivery, acceptance, N months after acceptance), templates per product line, editable
with history until money arrives against an instalment — then frozen at the model level."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.cash import deals
from leads.cash.deals import PlanItem, add_months
from leads.cash.models import Deal, DueRule, Milestone, PlanTemplate, PlanTemplateItem, Receivable, ReceivableFrozen

from .helpers import make_quote, make_won_deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def spine_template(screw):
    """The spine line's plan: 30 % on signing (+15 d), 40 % on delivery (+30 d), 20 % on acceptance
    (+30 d), 10 % 质保金 12 months after acceptance."""
    template = PlanTemplate.objects.create(name="脊柱设备 30/40/20/10", product_line=screw.line, is_default=True)
    for order, (milestone, percent, rule, days, months) in enumerate(
        [
            (Milestone.PREPAYMENT, 30, DueRule.ON_SIGNING, 15, 0),
            (Milestone.DELIVERY, 40, DueRule.ON_DELIVERY, 30, 0),
            (Milestone.ACCEPTANCE, 20, DueRule.ON_ACCEPTANCE, 30, 0),
            (Milestone.WARRANTY, 10, DueRule.MONTHS_AFTER_ACCEPTANCE, 0, 12),
        ],
        start=1,
    ):
        PlanTemplateItem.objects.create(
            template=template, order=order, milestone=milestone, percent=Decimal(percent), due_rule=rule, offset_days=days, offset_months=months
        )
    return template


def test_confirming_with_the_product_lines_template_makes_a_milestone_plan(client, alice, customer_a, screw, spine_template):
    """C6 through the page as alice: the confirm form offers (and preselects) the spine template;
    amounts by percentage to the cent; only the prepayment has a date until delivery/acceptance."""
    with time_machine.travel("2026-11-02 10:00 +08:00", tick=False):
        quote, version = make_quote(customer_a, alice, [(screw, 3, "0")], send=True)  # 3 × 9,800 × 1.13 = 33,222.00
        client.force_login(alice)
        page = client.get(f"/cash/quotes/{quote.pk}/confirm/").content.decode()
        assert "脊柱设备 30/40/20/10" in page and f'value="{spine_template.pk}" selected' in page
        response = client.post(f"/cash/quotes/{quote.pk}/confirm/", {"plan_template": spine_template.pk})
        assert response.status_code == 302
    deal = Deal.objects.get()
    plan = [(r.milestone, r.percent, r.amount, r.due_rule, r.due_date) for r in deal.receivables.all()]
    assert plan == [
        (Milestone.PREPAYMENT, Decimal("30.00"), Decimal("9966.60"), DueRule.ON_SIGNING, date(2026, 11, 17)),
        (Milestone.DELIVERY, Decimal("40.00"), Decimal("13288.80"), DueRule.ON_DELIVERY, None),
        (Milestone.ACCEPTANCE, Decimal("20.00"), Decimal("6644.40"), DueRule.ON_ACCEPTANCE, None),
        (Milestone.WARRANTY, Decimal("10.00"), Decimal("3322.20"), DueRule.MONTHS_AFTER_ACCEPTANCE, None),
    ]
    assert sum(r.amount for r in deal.receivables.all()) == deal.amount


def test_delivery_and_acceptance_dates_set_the_due_dates_and_warranty_is_12_months(client, alice, customer_a, screw, spine_template):
    with time_machine.travel("2026-06-01 10:00 +08:00", tick=False):
        _quote, version = make_quote(customer_a, alice, [(screw, 3, "0")], send=True)
        from leads.cash import quotes

        quotes.quote_version_confirm(version=version, by=alice)
        deal = deals.deal_win(version=version, by=alice, plan=deals.plan_from_template(spine_template))
    with time_machine.travel("2026-11-20 10:00 +08:00", tick=False):
        client.force_login(alice)
        response = client.post(f"/cash/deals/{deal.pk}/dates/", {"delivered_on": "2026-07-10", "accepted_on": "2026-08-31"})
        assert response.status_code == 302
        dues = [r.due_date for r in deal.receivables.all()]
        assert dues == [date(2026, 6, 16), date(2026, 8, 9), date(2026, 9, 30), date(2027, 8, 31)]
        # The 到货款/验收款 are now overdue; the 质保金 is not.
        overdue = Receivable.objects.overdue()
        assert {r.milestone for r in overdue} == {Milestone.PREPAYMENT, Milestone.DELIVERY, Milestone.ACCEPTANCE}
        bad = client.post(f"/cash/deals/{deal.pk}/dates/", {"delivered_on": "2026-09-10", "accepted_on": "2026-08-31"})
        assert bad.status_code == 400 and "验收日期不能早于到货日期" in bad.content.decode()


def test_calendar_months():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 8, 31), 12) == date(2027, 8, 31)


def test_the_plan_is_editable_with_history_until_money_arrives(client, alice, olga, carol, customer_a, hip):
    """C6: alice changes the plan on the page (history kept); once a payment arrives on the first
    instalment it is locked — the page keeps it, the model refuses any change to it by any path."""
    deal = make_won_deal(customer_a, alice, hip)  # 32,318.00 in one instalment
    only = deal.receivables.get()
    client.force_login(alice)
    form = {
        "plan-TOTAL_FORMS": 2, "plan-INITIAL_FORMS": 1,
        "plan-0-receivable_id": only.pk, "plan-0-milestone": "prepayment", "plan-0-percent": "50", "plan-0-due_rule": "on_signing", "plan-0-offset_days": "10",
        "plan-1-milestone": "warranty", "plan-1-amount": "16159.00", "plan-1-due_rule": "months_after_acceptance", "plan-1-offset_months": "12",
    }
    response = client.post(f"/cash/deals/{deal.pk}/plan/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    first, second = deal.receivables.order_by("sequence")
    assert (first.pk, first.milestone, first.amount, second.milestone, second.amount, second.due_date) == (
        only.pk, Milestone.PREPAYMENT, Decimal("16159.00"), Milestone.WARRANTY, Decimal("16159.00"), None
    )
    assert first.history.count() >= 2  # created, then edited
    deals.payment_record(receivable=first, amount=Decimal("100"), received_on=timezone.localdate(), by=olga)
    first.refresh_from_db()
    first.amount = Decimal("20000.00")
    with pytest.raises(ReceivableFrozen):
        first.save()
    with pytest.raises(ReceivableFrozen):
        Receivable.objects.get(pk=first.pk).delete()
    # Through the page: an attempt to change the locked instalment is ignored (it is not offered);
    # the rest must add up to what is left.
    response = client.post(
        f"/cash/deals/{deal.pk}/plan/",
        {
            "plan-TOTAL_FORMS": 2, "plan-INITIAL_FORMS": 0,
            "plan-0-receivable_id": first.pk, "plan-0-milestone": "prepayment", "plan-0-amount": "1.00", "plan-0-due_rule": "on_signing",
            "plan-1-receivable_id": second.pk, "plan-1-milestone": "warranty", "plan-1-amount": "16158.00", "plan-1-due_rule": "months_after_acceptance", "plan-1-offset_months": "12",
        },
    )
    assert response.status_code == 400 and "不等于成交金额减去已锁定期次后的 16159.00" in response.content.decode()
    first.refresh_from_db()
    assert first.amount == Decimal("16159.00")
    page = client.get(f"/cash/deals/{deal.pk}/").content.decode()
    assert "已锁定" in page


def test_a_plan_that_does_not_add_up_is_refused_naming_the_line(client, alice, customer_a, hip):
    deal = make_won_deal(customer_a, alice, hip)
    only = deal.receivables.get()
    client.force_login(alice)
    response = client.post(
        f"/cash/deals/{deal.pk}/plan/",
        {"plan-TOTAL_FORMS": 1, "plan-INITIAL_FORMS": 1, "plan-0-receivable_id": only.pk, "plan-0-milestone": "prepayment", "plan-0-percent": "90", "plan-0-due_rule": "on_signing"},
    )
    assert response.status_code == 400 and "各期合计" in response.content.decode()
    response = client.post(
        f"/cash/deals/{deal.pk}/plan/",
        {"plan-TOTAL_FORMS": 1, "plan-INITIAL_FORMS": 1, "plan-0-receivable_id": only.pk, "plan-0-milestone": "prepayment", "plan-0-percent": "100", "plan-0-amount": "5", "plan-0-due_rule": "fixed"},
    )
    assert response.status_code == 400 and "比例和金额填一个" in response.content.decode()
    assert deal.receivables.get().amount == Decimal("32318.00")


def test_others_cannot_edit_the_plan(client, alice, charlie, customer_a, hip):
    deal = make_won_deal(customer_a, alice, hip)
    client.force_login(charlie)
    assert client.post(f"/cash/deals/{deal.pk}/plan/", {}).status_code == 404
    assert client.post(f"/cash/deals/{deal.pk}/dates/", {}).status_code == 404


def test_percentages_round_to_the_cent_and_add_up():
    items = [PlanItem(percent=Decimal("33.33")), PlanItem(percent=Decimal("33.33")), PlanItem(percent=Decimal("33.34"))]
    amounts = deals.plan_amounts(Decimal("100.01"), items)
    assert sum(amounts) == Decimal("100.01")
    with pytest.raises(ValidationError):
        deals._validate_plan(Decimal("100.00"), [PlanItem(percent=Decimal("50"), due_rule=DueRule.ON_SIGNING)])
