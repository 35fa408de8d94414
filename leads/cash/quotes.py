"""Quotes (C1): built from the price list, priced by the server, versioned, approved, sent.

Rounding rule (what the PDF and every total show): per line,
    net   = quantity × unit price × (1 − discount %)     rounded half-up to the cent
    tax   = net × tax rate %                              rounded half-up to the cent
    total = net + tax
and a version's subtotal / tax / total are the sums of its lines' rounded figures, so the lines on
the paper always add up to the total on the paper.

Lifecycle: the one table in `leads.cash.lifecycle` (TRANSITIONS). Only a draft changes. Sending
freezes the version; revising a sent (or rejected/expired) version creates the next draft at current
list prices; sending that draft marks the earlier sent version `superseded`. Confirming or losing
the sent version closes an open draft with the reason. Every step stamps its time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from salesops.ledger import activity_append
from salesops.lib.money import to_cents
from salesops.models import ActivityKind, Customer, Product, Role
from salesops.notifications import notification_enqueue

from . import lifecycle
from .lifecycle import QuoteAction
from .models import (
    ZERO,
    ApprovalStatus,
    CashSettings,
    DiscountApproval,
    Quote,
    QuoteLine,
    QuoteStatus,
    QuoteVersion,
)

HUNDRED = Decimal("100")


class QuoteFrozen(ValidationError):
    """A sent (or confirmed, rejected, expired, superseded) version never changes."""


# --- Pricing ------------------------------------------------------------------------------------


def price_line(quantity: int, unit_price: Decimal, discount_percent: Decimal, tax_rate_percent: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(net, tax, total) of one line under the rounding rule above."""
    net = to_cents(Decimal(quantity) * Decimal(unit_price) * (HUNDRED - Decimal(discount_percent)) / HUNDRED)
    tax = to_cents(net * Decimal(tax_rate_percent) / HUNDRED)
    return net, tax, net + tax


def _reprice(version: QuoteVersion) -> QuoteVersion:
    subtotal = tax_total = ZERO
    for line in version.lines.all():
        subtotal += line.line_subtotal
        tax_total += line.line_tax
    version.subtotal, version.tax_total, version.total = subtotal, tax_total, subtotal + tax_total
    version.save(update_fields=["subtotal", "tax_total", "total"])
    return version


def _ensure_draft(version: QuoteVersion) -> None:
    if not version.is_editable:
        raise QuoteFrozen(
            _("报价 %(quote)s v%(version)d 已%(status)s，不能修改；请生成新版本。")
            % {"quote": version.quote.number, "version": version.version, "status": version.get_status_display()}
        )


def _clean_line_values(quantity, discount_percent, tax_rate_percent) -> tuple[int, Decimal, Decimal]:
    errors = {}
    try:
        quantity = int(quantity)
        if quantity < 1 or quantity > 100000:
            raise ValueError
    except (TypeError, ValueError):
        errors["quantity"] = _("数量必须是 1 到 100000 之间的整数")
    try:
        discount_percent = to_cents(discount_percent)
        if not ZERO <= discount_percent < HUNDRED:
            raise ValueError
    except (TypeError, ValueError, ArithmeticError):
        errors["discount_percent"] = _("折扣必须在 0 到 100 之间（不含 100）")
    try:
        tax_rate_percent = to_cents(tax_rate_percent)
        if not ZERO <= tax_rate_percent <= Decimal("30"):
            raise ValueError
    except (TypeError, ValueError, ArithmeticError):
        errors["tax_rate_percent"] = _("税率必须在 0 到 30 之间")
    if errors:
        raise ValidationError(errors)
    return quantity, discount_percent, tax_rate_percent


# --- Numbers ------------------------------------------------------------------------------------


def next_number(model, prefix: str, at: datetime) -> str:
    """`QT202611-0007`: per month, one more than the highest so far. A concurrent writer that takes
    the same number loses on the unique constraint and the caller retries."""
    period = f"{prefix}{timezone.localtime(at):%Y%m}-"
    last = model.objects.filter(number__startswith=period).aggregate(last=Max("number"))["last"]
    serial = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{period}{serial:04d}"


def _save_with_number(obj, prefix: str, at: datetime) -> None:
    for _attempt in range(5):
        obj.number = next_number(type(obj), prefix, at)
        try:
            with transaction.atomic():
                obj.save()
            return
        except IntegrityError:
            obj.pk = None
            continue
    raise IntegrityError("could not allocate a number")


# --- Services -----------------------------------------------------------------------------------


@transaction.atomic
def quote_create(*, customer: Customer, by, note: str = "", at: datetime | None = None) -> Quote:
    """A new quote with an empty draft v1 (valid for the configured number of days)."""
    at = at or timezone.now()
    settings = CashSettings.load()
    quote = Quote(customer=customer, rep=by, created_at=at)
    _save_with_number(quote, "QT", at)
    QuoteVersion.objects.create(
        quote=quote,
        version=1,
        valid_until=timezone.localtime(at).date() + timedelta(days=settings.quote_validity_days),
        note=note,
        created_by=by,
        created_at=at,
    )
    return quote


@transaction.atomic
def quote_line_add(
    *, version: QuoteVersion, product: Product, by, quantity=1, discount_percent=ZERO, tax_rate_percent=None
) -> QuoteLine:
    """Price a product from the price list. Adding a product already on the quote adds quantity."""
    version = QuoteVersion.objects.select_for_update().get(pk=version.pk)
    _ensure_draft(version)
    if not product.active:
        raise ValidationError({"product": _("产品 %(model)s 已停售，不能报价") % {"model": product.model_number}})
    if tax_rate_percent in (None, ""):
        tax_rate_percent = CashSettings.load().default_tax_rate_percent
    quantity, discount_percent, tax_rate_percent = _clean_line_values(quantity, discount_percent, tax_rate_percent)
    line = version.lines.filter(product=product).first()
    if line is not None:
        return quote_line_update(
            line=line, by=by, quantity=line.quantity + quantity, discount_percent=line.discount_percent, tax_rate_percent=line.tax_rate_percent
        )
    line = QuoteLine(
        version=version,
        product=product,
        product_model=product.model_number,
        product_name=product.name,
        unit=product.unit,
        quantity=quantity,
        unit_price=product.list_price,
        discount_percent=discount_percent,
        tax_rate_percent=tax_rate_percent,
    )
    line.line_subtotal, line.line_tax, line.line_total = price_line(quantity, line.unit_price, discount_percent, tax_rate_percent)
    line.full_clean()
    line.save()
    _reprice(version)
    return line


@transaction.atomic
def quote_line_update(*, line: QuoteLine, by, quantity, discount_percent, tax_rate_percent) -> QuoteLine:
    """Quantity, discount and tax rate are the rep's levers; the unit price is the price list's."""
    version = QuoteVersion.objects.select_for_update().get(pk=line.version_id)
    _ensure_draft(version)
    quantity, discount_percent, tax_rate_percent = _clean_line_values(quantity, discount_percent, tax_rate_percent)
    line.quantity, line.discount_percent, line.tax_rate_percent = quantity, discount_percent, tax_rate_percent
    line.line_subtotal, line.line_tax, line.line_total = price_line(quantity, line.unit_price, discount_percent, tax_rate_percent)
    line.full_clean()
    line.save()
    _reprice(version)
    return line


@transaction.atomic
def quote_line_remove(*, line: QuoteLine, by) -> QuoteVersion:
    version = QuoteVersion.objects.select_for_update().get(pk=line.version_id)
    _ensure_draft(version)
    line.delete()
    return _reprice(version)


@transaction.atomic
def quote_version_update(*, version: QuoteVersion, by, valid_until: date, note: str = "") -> QuoteVersion:
    version = QuoteVersion.objects.select_for_update().get(pk=version.pk)
    _ensure_draft(version)
    if valid_until < timezone.localdate():
        raise ValidationError({"valid_until": _("有效期不能早于今天")})
    version.valid_until, version.note = valid_until, note[:200]
    version.save(update_fields=["valid_until", "note"])
    return version


def approved_discount(version: QuoteVersion) -> Decimal | None:
    """The highest discount a supervisor approved for this version, if any."""
    return (
        version.approvals.filter(status=ApprovalStatus.APPROVED).aggregate(best=Max("discount_percent"))["best"]
    )


def needs_approval(version: QuoteVersion) -> bool:
    """True while some line's discount is above the limit and not covered by an approval."""
    highest = version.max_discount_percent()
    if highest <= CashSettings.load().discount_limit_percent:
        return False
    approved = approved_discount(version)
    return approved is None or highest > approved


@transaction.atomic
def quote_version_send(*, version: QuoteVersion, by, at: datetime | None = None) -> QuoteVersion:
    """Freeze the draft and record `quote_sent`. Earlier sent versions become superseded."""
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update(of=("self",)).select_related("quote__customer").get(pk=version.pk)
    _ensure_draft(version)
    lifecycle.target(version, QuoteAction.SEND)
    if not version.lines.exists():
        raise ValidationError(_("报价没有明细，不能发送"))
    if needs_approval(version):
        raise ValidationError(
            _("折扣 %(discount)s%% 超过审批线 %(limit)s%%，需主管审批后才能发送")
            % {"discount": version.max_discount_percent(), "limit": CashSettings.load().discount_limit_percent}
        )
    if version.valid_until and version.valid_until < timezone.localtime(at).date():
        raise ValidationError({"valid_until": _("有效期已过，请先修改有效期")})
    for earlier in version.quote.versions.filter(status=QuoteStatus.SENT, version__lt=version.version):
        lifecycle.move(earlier, QuoteAction.SUPERSEDE, at, reason=_("已发送新版本 v%(n)d") % {"n": version.version})
    lifecycle.move(version, QuoteAction.SEND, at)
    quote = version.quote
    activity_append(
        rep=quote.rep,
        kind=ActivityKind.QUOTE_SENT,
        customer=quote.customer,
        subject=version,
        occurred_at=at,
        facts={"total": str(version.total), "version": version.version},
    )
    return version


@transaction.atomic
def quote_revise(*, quote: Quote, by, source: QuoteVersion | None = None, at: datetime | None = None) -> QuoteVersion:
    """The next draft (v n+1) from `source` (default: the latest sent/rejected/expired version) at
    CURRENT list prices: quantities, discounts and tax rates are copied, unit prices, model names
    and units come from today's price list; discontinued products are left out (the caller reads `draft.dropped`). An open draft is returned as is."""
    at = at or timezone.now()
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    versions = list(quote.versions.all())
    open_draft = next((v for v in versions if v.status == QuoteStatus.DRAFT), None)
    if open_draft is not None:
        open_draft.dropped = []
        return open_draft
    if any(v.status == QuoteStatus.CONFIRMED for v in versions):
        raise ValidationError(_("报价已确认，不能再修改"))
    if source is None:
        source = lifecycle.version_for(versions, QuoteAction.REVISE)
        if source is None:
            raise ValidationError(_("没有可以修改的版本（需为已发送、已拒绝或已过期）"))
    elif source.quote_id != quote.pk:
        raise ValidationError(_("版本不属于该报价"))
    lifecycle.target(source, QuoteAction.REVISE)
    settings = CashSettings.load()
    draft = QuoteVersion.objects.create(
        quote=quote,
        version=max(v.version for v in versions) + 1,
        valid_until=timezone.localtime(at).date() + timedelta(days=settings.quote_validity_days),
        note=source.note,
        created_by=by,
        created_at=at,
        revised_from=source,
    )
    dropped = []
    for line in source.lines.select_related("product"):
        product = line.product
        if not product.active:
            dropped.append(line.product_model)
            continue
        new_line = QuoteLine(
            version=draft,
            product=product,
            product_model=product.model_number,
            product_name=product.name,
            unit=product.unit,
            quantity=line.quantity,
            unit_price=product.list_price,
            discount_percent=line.discount_percent,
            tax_rate_percent=line.tax_rate_percent,
        )
        new_line.line_subtotal, new_line.line_tax, new_line.line_total = price_line(
            new_line.quantity, new_line.unit_price, new_line.discount_percent, new_line.tax_rate_percent
        )
        new_line.save()
    draft = _reprice(draft)
    draft.dropped = dropped
    return draft


def _close_drafts(version: QuoteVersion, at: datetime, reason: str) -> None:
    for draft in version.quote.versions.filter(status=QuoteStatus.DRAFT).exclude(pk=version.pk):
        lifecycle.move(draft, QuoteAction.CLOSE, at, reason=reason)


@transaction.atomic
def quote_version_confirm(*, version: QuoteVersion, by, at: datetime | None = None) -> QuoteVersion:
    """The customer accepted this version: `quote_confirmed`; an open draft is closed with the reason."""
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update(of=("self",)).select_related("quote__customer").get(pk=version.pk)
    if version.status != QuoteStatus.SENT:
        raise ValidationError(_("只有已发送的报价可以确认（当前：%(status)s）") % {"status": version.get_status_display()})
    if version.valid_until and version.valid_until < timezone.localtime(at).date():
        raise ValidationError(_("报价已过有效期（%(date)s），请重新报价") % {"date": version.valid_until})
    lifecycle.move(version, QuoteAction.CONFIRM, at)
    _close_drafts(version, at, _("客户已确认 v%(n)d") % {"n": version.version})
    activity_append(
        rep=version.quote.rep,
        kind=ActivityKind.QUOTE_CONFIRMED,
        customer=version.quote.customer,
        subject=version,
        occurred_at=at,
        facts={"total": str(version.total)},
    )
    return version


@transaction.atomic
def quote_version_reject(*, version: QuoteVersion, by, at: datetime | None = None) -> QuoteVersion:
    """The customer said no to this version. An open draft stays: it is usually the answer."""
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != QuoteStatus.SENT:
        raise ValidationError(_("只有已发送的报价可以标记为拒绝（当前：%(status)s）") % {"status": version.get_status_display()})
    lifecycle.move(version, QuoteAction.REJECT, at)
    return version


@transaction.atomic
def quote_version_discard(*, version: QuoteVersion, by, reason: str = "", at: datetime | None = None) -> QuoteVersion:
    """A draft nobody will send is discarded (kept, read-only, with the reason)."""
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update().get(pk=version.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写作废原因")})
    lifecycle.move(version, QuoteAction.DISCARD, at, reason=reason)
    for approval in version.approvals.filter(status=ApprovalStatus.PENDING):
        approval.status, approval.decided_at, approval.decision_note = ApprovalStatus.REJECTED, at, _("草稿已作废")
        approval.save(update_fields=["status", "decided_at", "decision_note"])
    return version


def quote_versions_expire(*, now: datetime | None = None) -> int:
    """Sent versions past their validity date become expired (the daily `cash.expire_quotes`)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    expired = 0
    for pk in QuoteVersion.objects.filter(status=QuoteStatus.SENT, valid_until__lt=today).values_list("pk", flat=True):
        with transaction.atomic():
            version = QuoteVersion.objects.select_for_update().get(pk=pk)
            if version.status != QuoteStatus.SENT:  # confirmed meanwhile, or a second run
                continue
            lifecycle.move(version, QuoteAction.EXPIRE, now)
            expired += 1
    return expired


# --- Discount approval ----------------------------------------------------------------------------


def approvers_for(quote: Quote) -> list:
    """Who is asked: the quote rep's team supervisor (the director when the rep has no team or is
    the supervisor)."""
    from django.contrib.auth import get_user_model

    rep = getattr(quote.rep, "rep", None)
    team = rep.team if rep else None
    if team and team.supervisor_id and team.supervisor_id != quote.rep_id:
        return [team.supervisor]
    return list(get_user_model().objects.filter(rep__role=Role.DIRECTOR, is_active=True))


@transaction.atomic
def discount_approval_request(*, version: QuoteVersion, by, reason: str = "", at: datetime | None = None) -> DiscountApproval:
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update(of=("self",)).select_related("quote").get(pk=version.pk)
    _ensure_draft(version)
    if not needs_approval(version):
        raise ValidationError(_("当前折扣未超过审批线，无需审批"))
    pending = version.approvals.filter(status=ApprovalStatus.PENDING).first()
    highest = version.max_discount_percent()
    if pending:
        if pending.discount_percent != highest:
            pending.discount_percent = highest
            pending.save(update_fields=["discount_percent"])
        return pending
    approval = DiscountApproval.objects.create(
        version=version, discount_percent=highest, reason=reason[:200], requested_by=by, requested_at=at
    )
    url = reverse("cash:quote_detail", args=[version.quote_id])
    for approver in approvers_for(version.quote):
        notification_enqueue(
            recipient=approver,
            title=_("折扣审批：%(quote)s（%(discount)s%%）") % {"quote": version.quote.number, "discount": highest},
            body=_("%(rep)s 申请折扣 %(discount)s%%，理由：%(reason)s")
            % {"rep": by.get_full_name() or by.username, "discount": highest, "reason": reason or "—"},
            url=url,
            dedupe_key=f"cash-approval-{approval.pk}-{approver.pk}",
        )
    return approval


@transaction.atomic
def discount_approval_decide(*, approval: DiscountApproval, approve: bool, by, note: str = "", at: datetime | None = None) -> DiscountApproval:
    """A supervisor approves or rejects. Approval appends `approval` with the APPROVER as rep."""
    at = at or timezone.now()
    approval = DiscountApproval.objects.select_for_update(of=("self",)).select_related("version__quote__customer").get(pk=approval.pk)
    if approval.status != ApprovalStatus.PENDING:
        raise ValidationError(_("该审批已处理（%(status)s）") % {"status": approval.get_status_display()})
    if approval.version.status != QuoteStatus.DRAFT:
        raise ValidationError(_("该版本已%(status)s，审批不再需要") % {"status": approval.version.get_status_display()})
    if approval.requested_by_id == by.pk:
        raise ValidationError(_("不能审批自己的申请"))
    if approve and approval.version.max_discount_percent() > approval.discount_percent:
        raise ValidationError(_("申请后折扣又被提高，请让销售重新提交审批"))
    approval.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    approval.decided_by, approval.decided_at, approval.decision_note = by, at, note[:200]
    approval.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    quote = approval.version.quote
    if approve:
        activity_append(
            rep=by,
            kind=ActivityKind.APPROVAL,
            customer=quote.customer,
            subject=approval,
            occurred_at=at,
            facts={"quote_version_id": approval.version_id, "discount_percent": str(approval.discount_percent)},
        )
    notification_enqueue(
        recipient=approval.requested_by,
        title=(_("折扣已批准：%(quote)s") if approve else _("折扣被驳回：%(quote)s")) % {"quote": quote.number},
        body=note,
        url=reverse("cash:quote_detail", args=[quote.pk]),
        dedupe_key=f"cash-approval-decided-{approval.pk}",
    )
    return approval


# --- Reading ------------------------------------------------------------------------------------


def version_diff(old: QuoteVersion, new: QuoteVersion) -> dict:
    """Side-by-side rows keyed by product model: added / removed / changed / same."""
    fields = ("quantity", "unit_price", "discount_percent", "tax_rate_percent", "line_total")
    before = {line.product_model: line for line in old.lines.all()}
    after = {line.product_model: line for line in new.lines.all()}
    rows = []
    for model in list(before) + [m for m in after if m not in before]:
        a, b = before.get(model), after.get(model)
        if a and not b:
            state = "removed"
        elif b and not a:
            state = "added"
        else:
            state = "changed" if any(getattr(a, f) != getattr(b, f) for f in fields) else "same"
        changed = {f for f in fields if a and b and getattr(a, f) != getattr(b, f)}
        rows.append({"model": model, "name": (b or a).product_name, "old": a, "new": b, "state": state, "changed": changed})
    totals = [
        {"label": label, "old": getattr(old, f), "new": getattr(new, f), "changed": getattr(old, f) != getattr(new, f)}
        for label, f in ((_("不含税合计"), "subtotal"), (_("税额"), "tax_total"), (_("含税合计"), "total"))
    ]
    return {"rows": rows, "totals": totals}
