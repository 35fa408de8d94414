"""Deals, receivables and payments (C2).

A confirmed quote version becomes a won deal with its receivable instalments; a lost deal keeps its
reason. Payments are recorded by finance or by a rep; the rep who pushed the payment (回款推动) is
kept on the payment and gets the `payment_recorded` activity that scoring turns into points.
`Receivable.paid_amount` is written only here and always equals the sum of its payments.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from salesops.ledger import activity_append
from salesops.lib.money import to_cents
from salesops.models import Activity, ActivityKind, Customer, Role

from .models import (
    MONEY,
    ZERO,
    CashSettings,
    Deal,
    DealStatus,
    LostReason,
    Payment,
    QuoteStatus,
    QuoteVersion,
    Receivable,
)
from .quotes import _save_with_number

User = get_user_model()
CREDITED_ROLES = (Role.REP, Role.SUPERVISOR)


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


def _validate_plan(amount: Decimal, plan: list[tuple[Decimal, date]]) -> list[tuple[Decimal, date]]:
    if not plan:
        raise ValidationError({"instalments": _("至少一期应收")})
    errors = []
    for index, (part, due) in enumerate(plan, start=1):
        if part is None or part <= 0:
            errors.append(_("第 %(n)d 期金额必须大于 0") % {"n": index})
        if due is None:
            errors.append(_("第 %(n)d 期缺少到期日") % {"n": index})
    total = sum((part or ZERO for part, _due in plan), ZERO)
    if not errors and total != amount:
        errors.append(_("各期合计 %(total)s 不等于成交金额 %(amount)s") % {"total": total, "amount": amount})
    if errors:
        raise ValidationError({"instalments": errors})
    return sorted(plan, key=lambda item: item[1])


@transaction.atomic
def deal_win(*, version: QuoteVersion, by, plan: list[tuple[Decimal, date]] | None = None, at: datetime | None = None) -> Deal:
    """A confirmed quote version becomes a won deal with its receivable instalments."""
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update().select_related("quote__customer__hospital", "quote__rep").get(pk=version.pk)
    if version.status != QuoteStatus.CONFIRMED:
        raise ValidationError(_("只有已确认的报价可以转为赢单"))
    if Deal.objects.filter(quote_version=version).exists():
        raise ValidationError(_("该报价版本已生成交易"))
    quote = version.quote
    if plan is None:
        due = timezone.localtime(at).date() + timedelta(days=CashSettings.load().default_payment_days)
        plan = [(version.total, due)]
    plan = _validate_plan(version.total, plan)
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
    for sequence, (part, due) in enumerate(plan, start=1):
        Receivable.objects.create(deal=deal, sequence=sequence, amount=part, due_date=due)
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
        version = QuoteVersion.objects.select_for_update().select_related("quote").get(pk=version.pk)
        if version.status in (QuoteStatus.CONFIRMED, QuoteStatus.DRAFT):
            raise ValidationError(_("%(status)s的报价不能记为丢单") % {"status": version.get_status_display()})
        if Deal.objects.filter(quote_version=version).exists():
            raise ValidationError(_("该报价版本已有交易记录"))
        if version.status == QuoteStatus.SENT:
            version.status, version.rejected_at = QuoteStatus.REJECTED, at
            version.save(update_fields=["status", "rejected_at"])
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
    """Record money received against one instalment. Appends `payment_recorded` for the rep who
    pushed it (the recorder when nobody is named)."""
    at = at or timezone.now()
    receivable = Receivable.objects.select_for_update().select_related("deal__customer").get(pk=receivable.pk)
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
    payment = Payment.objects.create(
        receivable=receivable,
        amount=amount,
        received_on=received_on,
        pushed_by=pushed_by,
        recorded_by=by,
        recorded_at=at,
        reference=reference[:120],
        statement_row=statement_row,
    )
    receivable.paid_amount = receivable.payments.aggregate(total=Sum("amount"))["total"] or ZERO
    receivable.save(update_fields=["paid_amount"])
    deal = receivable.deal
    activity_append(
        rep=pushed_by or by,
        kind=ActivityKind.PAYMENT_RECORDED,
        customer=deal.customer,
        subject=payment,
        occurred_at=at,
        facts={"amount": str(amount), "deal_id": deal.pk},
    )
    return payment


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
