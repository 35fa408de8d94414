"""Quotes (C1): built from the price list, priced by the server, versioned, approved, sent.

Rounding rule (what the PDF and every total show): per line,
    net   = quantity × unit price × (1 − discount %)     rounded half-up to the cent
    tax   = net × tax rate %                              rounded half-up to the cent
    total = net + tax
and a version's subtotal / tax / total are the sums of its lines' rounded figures, so the lines on
the paper always add up to the total on the paper.

Lifecycle: draft → sent → confirmed | rejected | expired. Only a draft changes. Sending freezes
the version; revising a sent (or rejected/expired) quote creates the next draft (v2, v3 …) with a
copy of the lines; sending that draft marks the earlier sent version `superseded`. Confirming a
version supersedes any later draft. Every step stamps its time.
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
    version = QuoteVersion.objects.select_for_update().select_related("quote__customer").get(pk=version.pk)
    _ensure_draft(version)
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
        earlier.status, earlier.superseded_at = QuoteStatus.SUPERSEDED, at
        earlier.save(update_fields=["status", "superseded_at"])
    version.status, version.sent_at = QuoteStatus.SENT, at
    version.save(update_fields=["status", "sent_at"])
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
def quote_revise(*, quote: Quote, by, at: datetime | None = None) -> QuoteVersion:
    """The next draft version, a copy of the latest one. An open draft is returned as is."""
    at = at or timezone.now()
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    latest = quote.versions.order_by("-version").first()
    if latest.status == QuoteStatus.DRAFT:
        return latest
    if latest.status == QuoteStatus.CONFIRMED:
        raise ValidationError(_("报价已确认，不能再修改"))
    settings = CashSettings.load()
    draft = QuoteVersion.objects.create(
        quote=quote,
        version=latest.version + 1,
        valid_until=timezone.localtime(at).date() + timedelta(days=settings.quote_validity_days),
        note=latest.note,
        created_by=by,
        created_at=at,
    )
    copied = ("product_id", "product_model", "product_name", "unit", "quantity", "unit_price", "discount_percent")
    copied += ("tax_rate_percent", "line_subtotal", "line_tax", "line_total")
    for line in latest.lines.all():
        QuoteLine.objects.create(version=draft, **{name: getattr(line, name) for name in copied})
    return _reprice(draft)


@transaction.atomic
def quote_version_confirm(*, version: QuoteVersion, by, at: datetime | None = None) -> QuoteVersion:
    """The customer accepted this version: `quote_confirmed`; later drafts are superseded."""
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update().select_related("quote__customer").get(pk=version.pk)
    if version.status != QuoteStatus.SENT:
        raise ValidationError(_("只有已发送的报价可以确认（当前：%(status)s）") % {"status": version.get_status_display()})
    if version.valid_until and version.valid_until < timezone.localtime(at).date():
        raise ValidationError(_("报价已过有效期（%(date)s），请重新报价") % {"date": version.valid_until})
    version.status, version.confirmed_at = QuoteStatus.CONFIRMED, at
    version.save(update_fields=["status", "confirmed_at"])
    for other in version.quote.versions.exclude(pk=version.pk).filter(status__in=[QuoteStatus.DRAFT, QuoteStatus.SENT]):
        other.status, other.superseded_at = QuoteStatus.SUPERSEDED, at
        other.save(update_fields=["status", "superseded_at"])
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
    at = at or timezone.now()
    version = QuoteVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != QuoteStatus.SENT:
        raise ValidationError(_("只有已发送的报价可以标记为拒绝（当前：%(status)s）") % {"status": version.get_status_display()})
    version.status, version.rejected_at = QuoteStatus.REJECTED, at
    version.save(update_fields=["status", "rejected_at"])
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
            version.status, version.expired_at = QuoteStatus.EXPIRED, now
            version.save(update_fields=["status", "expired_at"])
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
    version = QuoteVersion.objects.select_for_update().select_related("quote").get(pk=version.pk)
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
    approval = DiscountApproval.objects.select_for_update().select_related("version__quote__customer").get(pk=approval.pk)
    if approval.status != ApprovalStatus.PENDING:
        raise ValidationError(_("该审批已处理（%(status)s）") % {"status": approval.get_status_display()})
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
