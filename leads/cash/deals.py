"""Deals, receivables and payments (C2, C5, C6, T4).

A confirmed quote version becomes a won deal with its receivable plan (milestones with due rules);
a lost deal keeps its reason. Payments are recorded by finance or by a rep and reversed only by a
counter-entry. 回款推动 (`payment_recorded`, scored by `scoring`) is written once per instalment,
only for verified money (bank row or finance approval) at or above the minimum share, to a pusher
named by finance or a supervisor; a reversal appends `payment_reversed`.
`Receivable.paid_amount` is written only here and always equals the sum of its payments.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from salesops.access import role_of
from salesops.ledger import activities_for, activity_append
from salesops.lib.money import to_cents
from salesops.models import Activity, ActivityKind, Customer, Role

from .models import (
    MONEY,
    ZERO,
    CashSettings,
    Deal,
    DueRule,
    Milestone,
    PlanTemplate,
    DealStatus,
    LostReason,
    Payment,
    PaymentCredit,
    QuoteStatus,
    QuoteVersion,
    Receivable,
)
from . import lifecycle
from .lifecycle import QuoteAction
from .quotes import _close_drafts, _save_with_number

User = get_user_model()
CREDITED_ROLES = (Role.REP, Role.SUPERVISOR)
FINANCE_ROLES = (Role.DIRECTOR, Role.OPS)  # as access.is_finance


def split_evenly(amount: Decimal, count: int) -> list[Decimal]:
    """`count` instalments to the cent; the last one takes the rounding remainder."""
    if count < 1:
        raise ValidationError({"instalments": _("至少一期")})
    part = to_cents(amount / count)
    return [part] * (count - 1) + [amount - part * (count - 1)]


def default_plan(amount: Decimal, count: int, first_due: date, months_apart: int = 1) -> list[tuple[Decimal, date]]:
    """Equal instalments, due every `months_apart` months from `first_due` (30 days a month)."""
    return [(part, first_due + timedelta(days=30 * months_apart * index)) for index, part in enumerate(split_evenly(amount, count))]


def product_summary(version: QuoteVersion) -> str:
    """`AK-HIP-01 ×2, SP-PED-01` (the board's ticker shows it)."""
    parts = [f"{line.product_model} ×{line.quantity}" if line.quantity > 1 else line.product_model for line in version.lines.all()]
    return ", ".join(parts)[:200]


def reps_involved(customer: Customer, owner, until: datetime) -> list[int]:
    """Reps (and supervisors) with any activity on the customer in the credit window, plus the owner."""
    window = CashSettings.load().deal_credit_window_days
    ids = set(
        Activity.objects.filter(
            customer=customer,
            occurred_at__gte=until - timedelta(days=window),
            occurred_at__lte=until,
            rep__rep__role__in=CREDITED_ROLES,
        ).values_list("rep_id", flat=True)
    )
    ids.add(owner.pk)
    return sorted(ids)


@dataclass
class PlanItem:
    """One instalment of a plan before it is saved: a milestone with a percentage of the deal or a
    fixed amount, and the rule that dates it (C6)."""

    milestone: str = Milestone.INSTALMENT
    percent: Decimal | None = None
    amount: Decimal | None = None
    due_rule: str = DueRule.FIXED
    offset_days: int = 0
    offset_months: int = 0
    due_date: date | None = None  # FIXED only
    receivable_id: int | None = None  # editing: the instalment this item keeps


def add_months(day: date, months: int) -> date:
    """Calendar months (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_for(rule: str, *, offset_days: int, offset_months: int, fixed: date | None, signed_on: date, delivered_on: date | None, accepted_on: date | None) -> date | None:
    """The due date a rule gives today; None while the event it waits for has not happened."""
    if rule == DueRule.FIXED:
        return fixed
    base = {DueRule.ON_SIGNING: signed_on, DueRule.ON_DELIVERY: delivered_on}.get(rule, accepted_on)
    if base is None:
        return None
    if rule == DueRule.MONTHS_AFTER_ACCEPTANCE:
        base = add_months(base, offset_months)
    return base + timedelta(days=offset_days)


def plan_from_template(template: PlanTemplate) -> list[PlanItem]:
    return [
        PlanItem(
            milestone=item.milestone,
            percent=item.percent,
            amount=item.amount,
            due_rule=item.due_rule,
            offset_days=item.offset_days,
            offset_months=item.offset_months,
        )
        for item in template.items.all()
    ]


def plan_amounts(total: Decimal, items: list[PlanItem], base: Decimal | None = None) -> list[Decimal | None]:
    """Percentages of `base` (default: `total`) to the cent, fixed amounts as given; a rounding gap
    of a cent or so goes to the last percentage item so the plan adds up to `total` exactly."""
    base = total if base is None else base
    amounts = [
        to_cents(base * Decimal(item.percent) / 100) if item.percent is not None else (to_cents(item.amount) if item.amount is not None else None)
        for item in items
    ]
    percent_indexes = [index for index, item in enumerate(items) if item.percent is not None]
    if percent_indexes and None not in amounts:
        gap = total - sum(amounts, ZERO)
        if gap and abs(gap) <= Decimal("0.01") * len(percent_indexes):
            amounts[percent_indexes[-1]] += gap
    return amounts


def _validate_plan(amount: Decimal, items: list[PlanItem], base: Decimal | None = None) -> list[PlanItem]:
    """Every item has a positive amount, a known milestone and rule (a date when FIXED), and the
    items add up to `amount`. Sets each item's amount."""
    if not items:
        raise ValidationError({"instalments": _("至少一期应收")})
    errors = []
    amounts = plan_amounts(amount, items, base)
    for index, (item, part) in enumerate(zip(items, amounts), start=1):
        if part is None or part <= 0:
            errors.append(_("第 %(n)d 期金额必须大于 0") % {"n": index})
        if item.due_rule not in DueRule.values:
            errors.append(_("第 %(n)d 期到期规则不正确") % {"n": index})
        elif item.due_rule == DueRule.FIXED and item.due_date is None:
            errors.append(_("第 %(n)d 期缺少到期日") % {"n": index})
        if item.milestone not in Milestone.values:
            errors.append(_("第 %(n)d 期节点不正确") % {"n": index})
    total = sum((part or ZERO for part in amounts), ZERO)
    if not errors and total != amount:
        if base is None:
            errors.append(_("各期合计 %(total)s 不等于成交金额 %(amount)s") % {"total": total, "amount": amount})
        else:
            errors.append(_("可修改各期合计 %(total)s 不等于成交金额减去已锁定期次后的 %(amount)s") % {"total": total, "amount": amount})
    if errors:
        raise ValidationError({"instalments": errors})
    for item, part in zip(items, amounts):
        item.amount = part
    return items


def _as_items(plan) -> list[PlanItem]:
    """Plans given as [(amount, due)] (equal instalments, the demo, older callers) become FIXED items."""
    return [item if isinstance(item, PlanItem) else PlanItem(amount=item[0], due_date=item[1]) for item in plan]


def _receivable_fields(deal: Deal, item: PlanItem) -> dict:
    return {
        "milestone": item.milestone,
        "percent": item.percent,
        "amount": item.amount,
        "due_rule": item.due_rule,
        "offset_days": item.offset_days or 0,
        "offset_months": item.offset_months or 0,
        "due_date": due_for(
            item.due_rule,
            offset_days=item.offset_days or 0,
            offset_months=item.offset_months or 0,
            fixed=item.due_date,
            signed_on=timezone.localtime(deal.closed_at).date(),
            delivered_on=deal.delivered_on,
            accepted_on=deal.accepted_on,
        ),
    }


@transaction.atomic
def deal_win(*, version: QuoteVersion, by, plan=None, at: datetime | None = None) -> Deal:
    """A confirmed quote version becomes a won deal with its receivable plan (PlanItems, or
    (amount, due) pairs for a plain instalment plan)."""
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update(of=("self",)).select_related("quote__customer__hospital", "quote__rep").get(pk=version.pk)
    if version.status != QuoteStatus.CONFIRMED:
        raise ValidationError(_("只有已确认的报价可以转为赢单"))
    if Deal.objects.filter(quote_version=version).exists():
        raise ValidationError(_("该报价版本已生成交易"))
    quote = version.quote
    if plan is None:
        due = timezone.localtime(at).date() + timedelta(days=CashSettings.load().default_payment_days)
        plan = [(version.total, due)]
    items = _validate_plan(version.total, _as_items(plan))
    if all(item.due_rule == DueRule.FIXED for item in items):
        items.sort(key=lambda item: item.due_date)  # dated instalments are numbered by due date
    deal = Deal(
        customer=quote.customer,
        hospital=quote.customer.hospital,
        quote_version=version,
        owner=quote.rep,
        status=DealStatus.WON,
        amount=version.total,
        product_summary=product_summary(version),
        closed_at=at,
        created_by=by,
    )
    _save_with_number(deal, "HT", at)
    rep_ids = reps_involved(quote.customer, quote.rep, at)
    deal.reps.set(rep_ids)
    for sequence, item in enumerate(items, start=1):
        Receivable.objects.create(deal=deal, sequence=sequence, **_receivable_fields(deal, item))
    activity_append(
        rep=deal.owner,
        kind=ActivityKind.DEAL_WON,
        customer=deal.customer,
        subject=deal,
        occurred_at=at,
        facts={"amount": str(deal.amount), "rep_ids": rep_ids},
    )
    return deal


@transaction.atomic
def receivable_plan_update(*, deal: Deal, items: list[PlanItem], by) -> list[Receivable]:
    """C6: edit the plan (with history) until money arrives. Instalments with any payment keep
    their terms (the model refuses a change); the others are updated, added or removed so the
    plan still adds up to the deal amount."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    if deal.status != DealStatus.WON:
        raise ValidationError(_("只有赢单有回款计划"))
    # The deal row above is the lock; PostgreSQL refuses FOR UPDATE together with GROUP BY.
    existing = {r.pk: r for r in deal.receivables.annotate(payment_count=Count("payments"))}
    frozen = {pk: r for pk, r in existing.items() if r.payment_count}
    editable = [item for item in items if item.receivable_id not in frozen]
    frozen_total = sum((r.amount for r in frozen.values()), ZERO)
    if not editable and deal.amount != frozen_total:
        raise ValidationError({"instalments": _("至少一期应收")})
    if editable:
        # Percentages stay percentages of the whole deal; the editable part must add up to the rest.
        _validate_plan(deal.amount - frozen_total, editable, base=deal.amount)
    unknown = [item.receivable_id for item in editable if item.receivable_id and item.receivable_id not in existing]
    if unknown:
        raise ValidationError({"instalments": _("应收期次不属于该交易")})
    kept_ids = {item.receivable_id for item in editable if item.receivable_id}
    for pk, receivable in existing.items():
        if pk not in frozen and pk not in kept_ids:
            receivable.delete()
    next_sequence = max([r.sequence for r in existing.values()] or [0]) + 1
    result = list(frozen.values())
    for item in editable:
        fields = _receivable_fields(deal, item)
        if item.receivable_id:
            receivable = existing[item.receivable_id]
            for name, value in fields.items():
                setattr(receivable, name, value)
            receivable.full_clean(exclude=["deal"])
            receivable.save()
        else:
            receivable = Receivable(deal=deal, sequence=next_sequence, **fields)
            next_sequence += 1
            receivable.full_clean(exclude=["deal"])
            receivable.save()
        result.append(receivable)
    return sorted(result, key=lambda r: r.sequence)


@transaction.atomic
def deal_milestones_set(*, deal: Deal, by, delivered_on: date | None, accepted_on: date | None) -> Deal:
    """Record delivery / acceptance; the due dates of instalments waiting for them follow their rule."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    today = timezone.localdate()
    errors = {}
    if delivered_on and delivered_on > today:
        errors["delivered_on"] = _("到货日期不能晚于今天")
    if accepted_on and accepted_on > today:
        errors["accepted_on"] = _("验收日期不能晚于今天")
    if accepted_on and delivered_on and accepted_on < delivered_on:
        errors["accepted_on"] = _("验收日期不能早于到货日期")
    if accepted_on and not (delivered_on or deal.delivered_on):
        errors["delivered_on"] = _("请先填写到货日期")
    if errors:
        raise ValidationError(errors)
    deal.delivered_on, deal.accepted_on = delivered_on, accepted_on
    deal.save(update_fields=["delivered_on", "accepted_on"])
    signed_on = timezone.localtime(deal.closed_at).date()
    for receivable in deal.receivables.exclude(due_rule=DueRule.FIXED):
        due = due_for(
            receivable.due_rule,
            offset_days=receivable.offset_days,
            offset_months=receivable.offset_months,
            fixed=receivable.due_date,
            signed_on=signed_on,
            delivered_on=deal.delivered_on,
            accepted_on=deal.accepted_on,
        )
        if due != receivable.due_date:
            receivable.due_date = due
            receivable.save(update_fields=["due_date"])
    return deal


@transaction.atomic
def deal_amount_correct(*, deal: Deal, amount: Decimal, reason: str, by) -> Deal:
    """T7: a won deal's amount was entered wrong. Only finance corrects it, with a reason kept in
    the deal's history, and only before any money arrived (afterwards the plan is frozen); the
    bonus split follows through `scoring.services.split_correct`. The model refuses any other
    change of a closed deal's money."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    if role_of(by) not in FINANCE_ROLES:
        raise ValidationError(_("只有财务可以更正合同金额"))
    if deal.status != DealStatus.WON:
        raise ValidationError(_("只有赢单可以更正合同金额"))
    if not reason.strip():
        raise ValidationError({"reason": _("请填写更正原因")})
    try:
        amount = to_cents(amount)
    except (TypeError, ValueError, ArithmeticError):
        raise ValidationError({"amount": _("金额格式不正确")}) from None
    if amount <= 0:
        raise ValidationError({"amount": _("合同金额必须大于 0")})
    if Payment.objects.filter(receivable__deal=deal).exists():
        raise ValidationError({"amount": _("该交易已有回款，合同金额不能再更正")})
    deal.amount = amount
    deal._amount_correction = True
    deal._history_user = by
    deal._change_reason = reason.strip()[:100]
    deal.save(update_fields=["amount"])
    return deal


@transaction.atomic
def deal_lose(
    *,
    customer: Customer,
    by,
    reason: LostReason | None = None,
    detail: str = "",
    version: QuoteVersion | None = None,
    at: datetime | None = None,
) -> Deal:
    """Record a lost deal with its reason; a still-open sent version is marked rejected."""
    at = at or timezone.now()
    detail = detail.strip()[:150]
    if reason is None and not detail:
        raise ValidationError({"reason": _("请选择或填写丢单原因")})
    owner = by
    amount = ZERO
    if version is not None:
        version = QuoteVersion.objects.select_for_update(of=("self",)).select_related("quote").get(pk=version.pk)
        if not lifecycle.allowed(version.status, QuoteAction.LOSE):
            raise ValidationError(_("%(status)s的报价不能记为丢单") % {"status": version.get_status_display()})
        if Deal.objects.filter(quote_version__quote=version.quote_id).exists():
            raise ValidationError(_("该报价已有交易记录"))
        lifecycle.move(version, QuoteAction.LOSE, at)
        _close_drafts(version, at, _("已记为丢单"))
        owner, amount = version.quote.rep, version.total
    elif customer.owner_id:
        owner = customer.owner
    text = "：".join(part for part in (reason.name if reason else "", detail) if part)
    deal = Deal.objects.create(
        customer=customer,
        hospital=customer.hospital,
        quote_version=version,
        owner=owner,
        status=DealStatus.LOST,
        amount=amount,
        product_summary=product_summary(version) if version else "",
        closed_at=at,
        lost_reason=text,
        lost_reason_choice=reason,
        created_by=by,
    )
    deal.reps.set([owner.pk])
    activity_append(
        rep=owner, kind=ActivityKind.DEAL_LOST, customer=customer, subject=deal, occurred_at=at, facts={"reason": text}
    )
    return deal


def _may_name_pusher(user) -> bool:
    """Finance (directors, ops) and supervisors name the pusher; a rep never does (T4)."""
    return role_of(user) in (Role.SUPERVISOR, Role.DIRECTOR, Role.OPS)


def _check_pusher(deal: Deal, pushed_by, by) -> None:
    if pushed_by is None:
        return
    if not _may_name_pusher(by):
        raise ValidationError({"pushed_by": _("回款推动人由财务或主管指定，录入人不能自己选择")})
    if pushed_by.pk == by.pk:
        raise ValidationError({"pushed_by": _("不能指定自己为回款推动人")})
    if role_of(pushed_by) not in CREDITED_ROLES or not (deal.owner_id == pushed_by.pk or deal.reps.filter(pk=pushed_by.pk).exists()):
        raise ValidationError({"pushed_by": _("回款推动人须是该交易的参与销售")})


def _recount(receivable: Receivable) -> None:
    receivable.paid_amount = receivable.payments.aggregate(total=Sum("amount"))["total"] or ZERO
    receivable.save(update_fields=["paid_amount"])


@transaction.atomic
def payment_record(
    *,
    receivable: Receivable,
    amount: Decimal,
    received_on: date,
    by,
    pushed_by=None,
    reference: str = "",
    statement_row=None,
    at: datetime | None = None,
) -> Payment:
    """Record money received against one instalment. Finance recording it is finance's approval; a
    bank row proves it; anything else waits for finance (`payment_verify`). The pusher can only be
    named by finance or a supervisor, never themself; 回款推动 follows in `settle_push_credit`."""
    at = at or timezone.now()
    receivable = Receivable.objects.select_for_update(of=("self",)).select_related("deal__customer").get(pk=receivable.pk)
    errors = {}
    if receivable.deal.status != DealStatus.WON:
        raise ValidationError(_("只能对赢单记录回款"))
    try:
        amount = to_cents(amount)
    except (TypeError, ValueError, ArithmeticError):
        errors["amount"] = _("金额格式不正确")
    else:
        if amount <= 0:
            errors["amount"] = _("回款金额必须大于 0")
        elif amount > receivable.outstanding:
            errors["amount"] = _("回款金额 %(amount)s 超过该期未收金额 %(out)s") % {"amount": amount, "out": receivable.outstanding}
    if received_on is None:
        errors["received_on"] = _("请填写到账日期")
    elif received_on > timezone.localtime(at).date():
        errors["received_on"] = _("到账日期不能晚于今天")
    if errors:
        raise ValidationError(errors)
    _check_pusher(receivable.deal, pushed_by, by)
    finance = role_of(by) in FINANCE_ROLES
    payment = Payment.objects.create(
        receivable=receivable,
        amount=amount,
        received_on=received_on,
        pushed_by=pushed_by,
        pusher_named_by=by if pushed_by else None,
        recorded_by=by,
        recorded_at=at,
        reference=reference[:120],
        statement_row=statement_row,
        approved_by=by if finance and statement_row is None else None,
        approved_at=at if finance and statement_row is None else None,
    )
    _recount(receivable)
    settle_push_credit(receivable=receivable, at=at)
    return payment


@transaction.atomic
def payment_verify(*, payment: Payment, by, pushed_by=None, at: datetime | None = None) -> Payment:
    """Finance approves a payment a rep recorded (the money is on the account) and/or names its
    pusher; a supervisor may name the pusher of a payment the bank already proves."""
    at = at or timezone.now()
    payment = Payment.objects.select_for_update(of=("self",)).select_related("receivable__deal").get(pk=payment.pk)
    if payment.is_reversal or hasattr(payment, "reversal"):
        raise ValidationError(_("已冲销的回款不能再核实"))
    fields = []
    if not payment.is_verified:
        if role_of(by) not in FINANCE_ROLES:
            raise ValidationError(_("只有财务可以核实手工录入的回款"))
        if payment.recorded_by_id == by.pk:
            raise ValidationError(_("不能核实自己录入的回款"))
        payment.approved_by, payment.approved_at = by, at
        fields += ["approved_by", "approved_at"]
    if pushed_by is not None:
        if payment.pushed_by_id:
            raise ValidationError({"pushed_by": _("回款推动人已指定，不能更改")})
        _check_pusher(payment.receivable.deal, pushed_by, by)
        payment.pushed_by, payment.pusher_named_by = pushed_by, by
        fields += ["pushed_by", "pusher_named_by"]
    if not fields:
        raise ValidationError(_("没有需要核实或指定的内容"))
    payment.save(update_fields=fields)
    settle_push_credit(receivable=payment.receivable, at=at)
    return payment


@transaction.atomic
def payment_reverse(*, payment: Payment, by, reason: str, at: datetime | None = None) -> Payment:
    """C5: a counter-entry (the negative amount, linked to the original, with the reason). The
    original stays; paid amounts, progress, overdue lists and the bank row's remainder follow; a
    回款推动 that no longer holds is revoked with a negative activity (T5)."""
    at = at or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写冲销原因")})
    if role_of(by) not in (Role.SUPERVISOR, *FINANCE_ROLES):
        raise ValidationError(_("只有财务或主管可以冲销回款"))
    original = Payment.objects.select_for_update().get(pk=payment.pk)
    receivable = Receivable.objects.select_for_update(of=("self",)).select_related("deal__customer").get(pk=original.receivable_id)
    if original.is_reversal:
        raise ValidationError(_("冲销记录本身不能再冲销"))
    if Payment.objects.filter(reverses=original).exists():
        raise ValidationError(_("这笔回款已冲销"))
    reversal = Payment.objects.create(
        receivable=receivable,
        amount=-original.amount,
        received_on=timezone.localtime(at).date(),
        recorded_by=by,
        recorded_at=at,
        reference=(_("冲销：%(ref)s") % {"ref": original.reference or original.pk})[:120],
        statement_row=original.statement_row,
        reverses=original,
        reason=reason[:200],
    )
    _recount(receivable)
    if original.statement_row_id:
        from .statements import statement_row_recount

        statement_row_recount(row=original.statement_row, at=at)
    settle_push_credit(receivable=receivable, at=at, cause=reversal)
    return reversal


def settle_push_credit(*, receivable: Receivable, at: datetime, cause: Payment | None = None) -> PaymentCredit | None:
    """Make the ledger agree with the instalment's verified money (T4/T5), idempotently:
    - the active credit is revoked (a `payment_reversed` activity linked to the credit and to the
      `payment_recorded` it cancels) when its payment was reversed or the verified, unreversed money
      fell below the minimum share;
    - otherwise, with no active credit and verified money at or above the share, the latest
      verified payment whose pusher someone else named earns it (`payment_recorded`, rep = pusher,
      subject = the credit, facts: deal, receivable, payment, basis).
    Called under the receivable's row lock by every payment service."""
    settings = CashSettings.load()
    deal = receivable.deal
    payments = list(
        receivable.payments.filter(reverses__isnull=True, amount__gt=0)
        .annotate(reversed_count=Count("reversal"))
        .select_related("pushed_by")
        .order_by("received_on", "pk")
    )
    live = [p for p in payments if not p.reversed_count and p.is_verified]
    verified = sum((p.amount for p in live), ZERO)
    reaches_share = receivable.amount > 0 and verified * 100 >= receivable.amount * settings.push_min_share_percent
    credit = PaymentCredit.objects.select_for_update().filter(receivable=receivable, revoked_at__isnull=True).first()
    if credit is not None:
        credited_payment_reversed = any(p.pk == credit.payment_id and p.reversed_count for p in payments)
        if credited_payment_reversed or not reaches_share:
            why = (cause.reason if cause is not None else "") or _("已核实到账低于回款推动最低比例")
            credit.revoked_at, credit.revoked_reason = at, why[:200]
            credit.save(update_fields=["revoked_at", "revoked_reason"])
            original = activities_for(credit).filter(kind=ActivityKind.PAYMENT_RECORDED).first()
            activity_append(
                rep=credit.pusher,
                kind=ActivityKind.PAYMENT_REVERSED,
                customer=deal.customer,
                subject=credit,
                occurred_at=at,
                facts={
                    "reverses_activity_id": original.pk if original else None,
                    "deal_id": deal.pk,
                    "receivable_id": receivable.pk,
                    "payment_id": credit.payment_id,
                    "reversal_payment_id": cause.pk if cause is not None else None,
                    "reason": why[:200],
                },
            )
            credit = None
        else:
            return credit
    if not reaches_share:
        return None
    eligible = [
        p for p in live
        if p.pushed_by_id and p.pusher_named_by_id and p.pushed_by_id != p.pusher_named_by_id and role_of(p.pushed_by) in CREDITED_ROLES
    ]
    if not eligible:
        return None
    payment = eligible[-1]
    credit = PaymentCredit.objects.create(
        receivable=receivable,
        payment=payment,
        pusher=payment.pushed_by,
        named_by_id=payment.pusher_named_by_id,
        basis="bank" if payment.statement_row_id else "finance",
        created_at=at,
    )
    activity_append(
        rep=payment.pushed_by,
        kind=ActivityKind.PAYMENT_RECORDED,
        customer=deal.customer,
        subject=credit,
        occurred_at=at,
        facts={
            "amount": str(verified),
            "instalment_amount": str(receivable.amount),
            "deal_id": deal.pk,
            "receivable_id": receivable.pk,
            "payment_id": payment.pk,
            "basis": credit.basis,
            "named_by_id": payment.pusher_named_by_id,
        },
    )
    return credit


# --- Reading ------------------------------------------------------------------------------------


def deal_progress(deal: Deal) -> dict:
    totals = deal.receivables.aggregate(amount=Sum("amount"), paid=Sum("paid_amount"))
    amount, paid = totals["amount"] or ZERO, totals["paid"] or ZERO
    from .models import progress_percent

    return {"amount": amount, "paid": paid, "outstanding": amount - paid, "percent": progress_percent(paid, amount)}


OUTSTANDING = ExpressionWrapper(F("amount") - F("paid_amount"), output_field=DecimalField(**MONEY))


def overdue_summary(receivables) -> dict:
    """Overdue totals per rep (deal owner) and per team, aggregated in SQL."""
    per_rep = (
        receivables.values("deal__owner", "deal__owner__first_name", "deal__owner__last_name", "deal__owner__username", "deal__owner__rep__team__name")
        .annotate(count=Count("pk"), outstanding=Sum(OUTSTANDING))
        .order_by("-outstanding")
    )
    per_team = (
        receivables.values("deal__owner__rep__team", "deal__owner__rep__team__name")
        .annotate(count=Count("pk"), outstanding=Sum(OUTSTANDING), reps=Count("deal__owner", distinct=True))
        .order_by("-outstanding")
    )
    return {"per_rep": list(per_rep), "per_team": list(per_team)}
