"""Lead to cash (C1–C3): quotes and their versions, deals, receivables, payments, and the bank
statements that prove payments arrived.

Contract fields (docs/contracts.md) are kept as named: dashboards read QuoteVersion.status/sent_at
(yellow light), Receivable.amount/paid_amount (green light) and the activities the services append.
Money is Decimal everywhere; totals are computed by `leads.cash.quotes`, never posted by a browser.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from salesops.guards import FactFieldsQuerySet, GuardedQuerySet, RecordIsFrozen, refuse_change_except_filling, refuse_field_change, refuse_frozen_change
from salesops.models import Customer, Hospital, Product, ProductLine

ZERO = Decimal("0.00")
MONEY = {"max_digits": 14, "decimal_places": 2}
PERCENT = {"max_digits": 5, "decimal_places": 2, "validators": [MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))]}


# --- Settings ops edit in admin -----------------------------------------------------------------


class CashSettings(models.Model):
    """One row (pk=1) of lead-to-cash settings, edited by ops in admin (A4) and history-tracked."""

    discount_limit_percent = models.DecimalField(
        _("折扣审批线（%）"), default=Decimal("10.00"), help_text=_("任一明细折扣超过此值，发送前需主管审批。"), **PERCENT
    )
    default_tax_rate_percent = models.DecimalField(_("默认税率（%）"), default=Decimal("13.00"), **PERCENT)
    quote_validity_days = models.PositiveSmallIntegerField(_("报价有效天数"), default=30)
    deal_credit_window_days = models.PositiveSmallIntegerField(
        _("参与销售统计窗口（天）"), default=180, help_text=_("成交前这么多天内在该客户上有动作的销售计为参与销售。")
    )
    default_payment_days = models.PositiveSmallIntegerField(_("默认账期（天）"), default=90)
    match_days_before_due = models.PositiveSmallIntegerField(
        _("匹配窗口：到期前（天）"), default=60, help_text=_("到账日期早于到期日多少天内仍视为该期回款。")
    )
    match_days_after_due = models.PositiveSmallIntegerField(
        _("匹配窗口：到期后（天）"), default=365, help_text=_("医院付款常晚于到期日；超过此天数不再自动提议。")
    )
    push_min_share_percent = models.DecimalField(
        _("回款推动最低比例（%）"),
        default=Decimal("20.00"),
        help_text=_("一期应收中已核实到账（银行流水或财务批准）的金额达到此比例，才计一次回款推动。"),
        **PERCENT,
    )
    company_name = models.CharField(_("公司名称"), max_length=100, default="浙江安康医疗器械有限公司")
    company_address = models.CharField(_("公司地址"), max_length=200, default="浙江省杭州市滨江区江南大道 3888 号")
    company_phone = models.CharField(_("公司电话"), max_length=40, default="0571-8888 6666")
    company_bank = models.CharField(
        _("收款账户"), max_length=200, default="中国工商银行杭州高新支行 1202 0260 0920 0123 456", blank=True
    )
    quote_terms = models.TextField(
        _("报价条款"),
        default="1. 以上价格含税（增值税专用发票）。\n2. 货到验收合格后按合同约定账期付款。\n3. 本报价在有效期内有效，逾期需重新报价。",
        blank=True,
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = verbose_name_plural = _("报价与回款设置")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

    def save(self, *args, **kwargs):
        self.pk = 1  # a singleton: there is exactly one settings row
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "CashSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


# --- Quotes (C1) ---------------------------------------------------------------------------------


class QuoteQuerySet(models.QuerySet):
    def visible_to(self, user) -> "QuoteQuerySet":
        """A3: a quote is visible exactly when its customer is."""
        return self.filter(customer__in=Customer.objects.visible_to(user).values("pk"))


class Quote(models.Model):
    number = models.CharField(_("报价单号"), max_length=30, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="quotes", verbose_name=_("客户"))
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quotes", verbose_name=_("销售"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    history = HistoricalRecords()

    objects = QuoteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = _("报价单")

    def __str__(self) -> str:
        return self.number

    def latest_version(self) -> "QuoteVersion | None":
        return self.versions.order_by("-version").first()


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SENT = "sent", _("已发送")
    CONFIRMED = "confirmed", _("已确认")
    REJECTED = "rejected", _("已拒绝")
    EXPIRED = "expired", _("已过期")
    SUPERSEDED = "superseded", _("已被新版本取代")
    DISCARDED = "discarded", _("已作废")


class QuoteVersionQuerySet(GuardedQuerySet):
    def frozen_rows(self) -> Q:
        # T7: a sent version never changes in bulk (its status moves through leads.cash.lifecycle).
        return ~Q(status=QuoteStatus.DRAFT)

    def awaiting_confirmation(self, now=None, hours: int = 72) -> "QuoteVersionQuerySet":
        """D1 yellow light: sent and not confirmed for more than `hours`."""
        now = now or timezone.now()
        return self.filter(status=QuoteStatus.SENT, sent_at__lt=now - timezone.timedelta(hours=hours))


class QuoteVersion(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, related_name="versions", verbose_name=_("报价单"))
    version = models.PositiveIntegerField(_("版本"))
    status = models.CharField(_("状态"), max_length=12, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT, db_index=True)
    subtotal = models.DecimalField(_("不含税合计"), default=ZERO, **MONEY)
    tax_total = models.DecimalField(_("税额"), default=ZERO, **MONEY)
    total = models.DecimalField(_("含税合计"), default=ZERO, **MONEY)
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("拒绝时间"), null=True, blank=True)
    expired_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    superseded_at = models.DateTimeField(_("被取代时间"), null=True, blank=True)
    discarded_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    closed_reason = models.CharField(_("关闭原因"), max_length=200, blank=True)
    revised_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("修改自版本")
    )
    history = HistoricalRecords()

    objects = QuoteVersionQuerySet.as_manager()

    class Meta:
        ordering = ["quote", "-version"]
        constraints = [models.UniqueConstraint(fields=["quote", "version"], name="uniq_quote_version")]
        indexes = [models.Index(fields=["status", "sent_at"], name="quoteversion_status_sent")]
        verbose_name = verbose_name_plural = _("报价版本")

    def __str__(self) -> str:
        return f"{self.quote.number} v{self.version}"

    @property
    def is_editable(self) -> bool:
        """Only a draft changes; sending freezes a version for good."""
        return self.status == QuoteStatus.DRAFT

    def save(self, *args, **kwargs):
        # T7: a sent version changes only its status (forward) and that status's time, by any path.
        refuse_frozen_change(
            self,
            is_frozen=lambda stored: stored["status"] != QuoteStatus.DRAFT,
            mutable=("status", "confirmed_at", "rejected_at", "expired_at", "superseded_at", "discarded_at", "closed_reason"),
            back_to=("status", QuoteStatus.DRAFT),
        )
        # C4: a status change must be a move of the lifecycle table, whoever saves.
        if not self._state.adding and self.pk is not None:
            from .lifecycle import TRANSITIONS

            stored = type(self)._base_manager.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored is not None and stored != self.status and self.status not in TRANSITIONS.get(stored, {}).values():
                raise ValidationError(
                    _("报价版本不能从「%(old)s」改为「%(new)s」") % {"old": QuoteStatus(stored).label, "new": QuoteStatus(self.status).label}
                )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        # T7: only a draft may go; a sent version (and its lines) is a record the customer saw.
        stored = type(self)._base_manager.filter(pk=self.pk).values_list("status", flat=True).first()
        if stored is not None and stored != QuoteStatus.DRAFT:
            raise RecordIsFrozen(f"QuoteVersion {self.pk} is {stored}; it is never deleted")
        return super().delete(*args, **kwargs)

    @property
    def label(self) -> str:
        return f"v{self.version}"

    def max_discount_percent(self) -> Decimal:
        return max((line.discount_percent for line in self.lines.all()), default=ZERO)

    def hours_waiting(self, now=None) -> float | None:
        if self.status != QuoteStatus.SENT or not self.sent_at:
            return None
        return ((now or timezone.now()) - self.sent_at).total_seconds() / 3600


class QuoteLineQuerySet(GuardedQuerySet):
    def frozen_rows(self) -> Q:
        # T7: the lines of a sent version are as frozen as the version.
        return ~Q(version__status=QuoteStatus.DRAFT)


def _version_is_draft(version_id) -> bool:
    status = QuoteVersion._base_manager.filter(pk=version_id).values_list("status", flat=True).first()
    return status is None or status == QuoteStatus.DRAFT


class QuoteLine(models.Model):
    """One priced line. Product model, name and unit are copied from the price list when the line
    is added, so a sent version reads the same after the price list changes."""

    version = models.ForeignKey(QuoteVersion, on_delete=models.CASCADE, related_name="lines", verbose_name=_("版本"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, verbose_name=_("产品"))
    product_model = models.CharField(_("型号"), max_length=60, blank=True)
    product_name = models.CharField(_("名称"), max_length=120, blank=True)
    unit = models.CharField(_("单位"), max_length=10, blank=True)
    quantity = models.PositiveIntegerField(_("数量"), default=1, validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(_("单价"), max_digits=12, decimal_places=2, validators=[MinValueValidator(ZERO)])
    discount_percent = models.DecimalField(_("折扣%"), default=ZERO, **PERCENT)
    tax_rate_percent = models.DecimalField(_("税率%"), default=Decimal("13.00"), **PERCENT)
    line_subtotal = models.DecimalField(_("不含税金额"), default=ZERO, **MONEY)
    line_tax = models.DecimalField(_("税额"), default=ZERO, **MONEY)
    line_total = models.DecimalField(_("含税金额"), default=ZERO, **MONEY)
    history = HistoricalRecords()

    objects = QuoteLineQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name = verbose_name_plural = _("报价明细")

    def __str__(self) -> str:
        return f"{self.product_model} ×{self.quantity}"

    def _refuse_unless_draft(self, action: str) -> None:
        """T7: a line is added, changed or removed only while its version (and, for a move, the
        version it leaves) is a draft — by every path (service, admin inline, shell)."""
        stored = None if self.pk is None else type(self)._base_manager.filter(pk=self.pk).values_list("version_id", flat=True).first()
        for version_id in {self.version_id, stored} - {None}:
            if not _version_is_draft(version_id):
                raise RecordIsFrozen(f"QuoteLine {self.pk or 'new'}: version {version_id} is sent; its lines never {action}")

    def save(self, *args, **kwargs):
        self._refuse_unless_draft("change")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_unless_draft("go")
        return super().delete(*args, **kwargs)


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")


class DiscountApprovalQuerySet(GuardedQuerySet):
    def frozen_rows(self) -> Q:
        return ~Q(status=ApprovalStatus.PENDING)


class DiscountApproval(models.Model):
    """A supervisor's decision on a discount above the limit. Approving appends an `approval`
    activity with the approver as rep (evidence-backed, KPI 2)."""

    version = models.ForeignKey(QuoteVersion, on_delete=models.CASCADE, related_name="approvals", verbose_name=_("报价版本"))
    discount_percent = models.DecimalField(_("申请折扣（%）"), **PERCENT)
    reason = models.CharField(_("申请理由"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人")
    )
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    status = models.CharField(_("状态"), max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("审批人")
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=200, blank=True)
    history = HistoricalRecords()

    objects = DiscountApprovalQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = verbose_name_plural = _("折扣审批")

    def __str__(self) -> str:
        return f"{self.version} {self.discount_percent}%"

    def save(self, *args, **kwargs):
        # T7: a decided approval (who approved which discount) never changes, by any path.
        refuse_frozen_change(self, is_frozen=lambda stored: stored["status"] != ApprovalStatus.PENDING)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if type(self)._base_manager.filter(pk=self.pk).exclude(status=ApprovalStatus.PENDING).exists():
            raise RecordIsFrozen(f"DiscountApproval {self.pk} was decided; it is never deleted")
        return super().delete(*args, **kwargs)


# --- Deals, receivables, payments (C2) ------------------------------------------------------------


class DealStatus(models.TextChoices):
    WON = "won", _("赢单")
    LOST = "lost", _("丢单")


class LostReason(models.Model):
    """The list ops maintain in admin so lost deals can be counted by reason."""

    name = models.CharField(_("丢单原因"), max_length=40, unique=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    active = models.BooleanField(_("启用"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "name"]
        verbose_name = verbose_name_plural = _("丢单原因")

    def __str__(self) -> str:
        return self.name


class DealQuerySet(GuardedQuerySet):
    def frozen_rows(self) -> Q:
        # T7: every deal row is a closed deal (won or lost): no bulk change, no bulk delete.
        return Q()

    def visible_to(self, user) -> "DealQuerySet":
        return self.filter(customer__in=Customer.objects.visible_to(user).values("pk"))

    def with_progress(self) -> "DealQuerySet":
        """Receivable and paid sums per deal in SQL (subqueries, so the reps join cannot double them)."""
        receivables = Receivable.objects.filter(deal=OuterRef("pk")).order_by().values("deal")
        return self.annotate(
            receivable_total=Coalesce(
                Subquery(receivables.annotate(s=Sum("amount")).values("s")), Value(ZERO), output_field=DecimalField(**MONEY)
            ),
            paid_total=Coalesce(
                Subquery(receivables.annotate(s=Sum("paid_amount")).values("s")), Value(ZERO), output_field=DecimalField(**MONEY)
            ),
        )

    def paid_at_least(self, ratio: Decimal = Decimal("0.9")) -> "DealQuerySet":
        """D1 green light: won deals whose payments cover ≥ ratio of their receivables."""
        return (
            self.filter(status=DealStatus.WON)
            .with_progress()
            .filter(receivable_total__gt=0, paid_total__gte=ExpressionWrapper(F("receivable_total") * ratio, output_field=DecimalField(**MONEY)))
        )


class Deal(models.Model):
    number = models.CharField(_("合同号"), max_length=30, blank=True, db_index=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="deals", verbose_name=_("客户"))
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="deals", verbose_name=_("医院"))
    quote_version = models.OneToOneField(
        QuoteVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="deal", verbose_name=_("报价版本")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_deals", verbose_name=_("负责人")
    )
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="deals", verbose_name=_("参与销售"))
    status = models.CharField(_("状态"), max_length=8, choices=DealStatus.choices, default=DealStatus.WON, db_index=True)
    amount = models.DecimalField(_("金额"), **MONEY)
    product_summary = models.CharField(_("产品型号"), max_length=200, blank=True)
    closed_at = models.DateTimeField(_("成交时间"), default=timezone.now, db_index=True)
    lost_reason = models.CharField(_("丢单原因"), max_length=200, blank=True)
    lost_reason_choice = models.ForeignKey(
        LostReason, on_delete=models.PROTECT, null=True, blank=True, related_name="deals", verbose_name=_("丢单原因分类")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("录入人")
    )
    # Milestone dates the receivable plan's due rules read (C6); set on the deal page.
    delivered_on = models.DateField(_("到货日期"), null=True, blank=True)
    accepted_on = models.DateField(_("验收日期"), null=True, blank=True)
    history = HistoricalRecords(m2m_fields=[reps])  # reps are fixed when the deal closes; any change is history (R9)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-closed_at"]
        constraints = [models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="uniq_deal_number")]
        verbose_name = verbose_name_plural = _("交易")

    def __str__(self) -> str:
        return f"{self.number or self.pk} {self.hospital} ¥{self.amount}"

    # What may still change on a closed deal: the milestone dates the receivable plan reads (C6)
    # and the descriptive texts. Money, parties, status and close time are frozen (T7).
    MUTABLE_FIELDS = ("product_summary", "lost_reason", "lost_reason_choice_id", "delivered_on", "accepted_on")

    def save(self, *args, **kwargs):
        # `_amount_correction` is set only by leads.cash.deals.deal_amount_correct (finance, reason).
        mutable = self.MUTABLE_FIELDS + (("amount",) if getattr(self, "_amount_correction", False) else ())
        refuse_frozen_change(self, is_frozen=lambda stored: True, mutable=mutable)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RecordIsFrozen(f"Deal {self.pk} is a closed deal; it is never deleted")


class ReceivableQuerySet(GuardedQuerySet):
    def frozen_rows(self) -> Q:
        # T7: an instalment with money against it (part-paid or settled) changes through the
        # payment services only; its paid amount is their sum, written with history.
        return Q(payments__isnull=False)

    def visible_to(self, user) -> "ReceivableQuerySet":
        return self.filter(deal__customer__in=Customer.objects.visible_to(user).values("pk"))

    def open(self) -> "ReceivableQuerySet":
        return self.filter(deal__status=DealStatus.WON, paid_amount__lt=F("amount"))

    def overdue(self, today: date | None = None) -> "ReceivableQuerySet":
        return self.open().filter(due_date__lt=today or timezone.localdate())


class Milestone(models.TextChoices):
    PREPAYMENT = "prepayment", _("预付款")
    DELIVERY = "delivery", _("到货款")
    ACCEPTANCE = "acceptance", _("验收款")
    WARRANTY = "warranty", _("质保金")
    INSTALMENT = "instalment", _("分期款")


class DueRule(models.TextChoices):
    FIXED = "fixed", _("指定日期")
    ON_SIGNING = "on_signing", _("签约后")
    ON_DELIVERY = "on_delivery", _("到货后")
    ON_ACCEPTANCE = "on_acceptance", _("验收后")
    MONTHS_AFTER_ACCEPTANCE = "months_after_acceptance", _("验收后满 N 个月")


class ReceivableFrozen(ValidationError):
    """Money has arrived against the instalment: its terms no longer change."""


class Receivable(models.Model):
    """One instalment of a deal's receivable (C6: a milestone with a due rule); `paid_amount` is kept
    equal to the sum of its payments (reversals included) by the payment services, its only writer.
    Once any payment exists the instalment's terms are frozen (`save` refuses a change)."""

    FROZEN_FIELDS = ("deal_id", "sequence", "amount", "milestone", "percent", "due_rule", "offset_days", "offset_months")

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="receivables", verbose_name=_("交易"))
    sequence = models.PositiveSmallIntegerField(_("期次"), default=1)
    milestone = models.CharField(_("节点"), max_length=12, choices=Milestone.choices, default=Milestone.INSTALMENT)
    percent = models.DecimalField(_("比例（%）"), null=True, blank=True, **PERCENT)
    amount = models.DecimalField(_("应收金额"), **MONEY)
    due_rule = models.CharField(_("到期规则"), max_length=24, choices=DueRule.choices, default=DueRule.FIXED)
    offset_days = models.PositiveSmallIntegerField(_("账期（天）"), default=0)
    offset_months = models.PositiveSmallIntegerField(_("间隔（月）"), default=0)
    due_date = models.DateField(_("到期日"), null=True, blank=True, help_text=_("空：到货或验收日期未定"))
    paid_amount = models.DecimalField(_("已收金额"), default=ZERO, **MONEY)
    history = HistoricalRecords()

    objects = ReceivableQuerySet.as_manager()

    class Meta:
        ordering = ["deal", "sequence"]
        constraints = [models.UniqueConstraint(fields=["deal", "sequence"], name="uniq_receivable_sequence")]
        indexes = [models.Index(fields=["due_date"], name="receivable_due")]
        verbose_name = verbose_name_plural = _("应收款")

    def __str__(self) -> str:
        return _("%(deal)s 第%(sequence)s期 ¥%(amount)s") % {"deal": self.deal.number or self.deal_id, "sequence": self.sequence, "amount": self.amount}

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.paid_amount

    @property
    def progress_percent(self) -> int:
        return progress_percent(self.paid_amount, self.amount)

    def is_overdue(self, today: date | None = None) -> bool:
        return self.paid_amount < self.amount and self.due_date is not None and self.due_date < (today or timezone.localdate())

    @property
    def is_frozen(self) -> bool:
        return self.pk is not None and self.payments.exists()

    def save(self, *args, **kwargs):
        """C6: once money arrived against this instalment, its terms are frozen for every path
        (services, admin, a script); only `paid_amount` and the due date its rule computes move."""
        if self.pk is not None and Payment.objects.filter(receivable_id=self.pk).exists():
            stored = type(self).objects.filter(pk=self.pk).values(*self.FROZEN_FIELDS).first()
            changed = [name for name in self.FROZEN_FIELDS if stored and stored[name] != getattr(self, name)]
            if changed:
                labels = "、".join(str(self._meta.get_field(name.removesuffix("_id")).verbose_name) for name in changed)
                raise ReceivableFrozen(_("第 %(n)d 期已有回款，计划不能再修改（%(fields)s）。") % {"n": stored["sequence"], "fields": labels})
            # T7: the paid amount is the sum of the payments (reversals included), never typed.
            paid = Payment.objects.filter(receivable_id=self.pk).aggregate(total=Sum("amount"))["total"] or ZERO
            if self.paid_amount != paid:
                raise RecordIsFrozen(f"Receivable {self.pk}: paid_amount {self.paid_amount} is not the sum of its payments ({paid})")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk is not None and Payment.objects.filter(receivable_id=self.pk).exists():
            raise ReceivableFrozen(_("第 %(n)d 期已有回款，不能删除。") % {"n": self.sequence})
        return super().delete(*args, **kwargs)


def progress_percent(paid: Decimal, total: Decimal) -> int:
    """Whole percent, rounded down so 89.99 % never shows as the green 90 %."""
    if not total:
        return 0
    return min(100, int(paid * 100 // total))


class PaymentQuerySet(models.QuerySet):
    # T7: recorded money is never changed nor removed in bulk; a mistake is reversed (C5) and a
    # verification or pusher is named through leads.cash.deals (history rows).
    def update(self, **kwargs):
        raise RecordIsFrozen("payments change through leads.cash.deals only")

    def delete(self):
        raise RecordIsFrozen("payments are never deleted; reverse them")

    def bulk_update(self, objs, fields, batch_size=None):
        raise RecordIsFrozen("payments change through leads.cash.deals only")


class Payment(models.Model):
    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="payments", verbose_name=_("应收款"))
    amount = models.DecimalField(_("金额"), **MONEY)
    received_on = models.DateField(_("到账日期"))
    pushed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pushed_payments",
        verbose_name=_("回款推动人"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recorded_payments", verbose_name=_("录入人")
    )
    recorded_at = models.DateTimeField(_("录入时间"), default=timezone.now)
    reference = models.CharField(_("流水号/备注"), max_length=120, blank=True)
    statement_row = models.ForeignKey(
        "StatementRow", on_delete=models.PROTECT, null=True, blank=True, related_name="payments", verbose_name=_("银行流水")
    )
    # C5: a wrong payment is never edited or deleted; a counter-entry (negative amount) reverses it.
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal", verbose_name=_("冲销的回款")
    )
    reason = models.CharField(_("冲销原因"), max_length=200, blank=True)
    # T4: money is proven by a bank row or by finance's approval; the pusher is named by finance or a
    # supervisor (never by themself), recorded here with who named them.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("财务核实人")
    )
    approved_at = models.DateTimeField(_("财务核实时间"), null=True, blank=True)
    pusher_named_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("推动人指定人")
    )
    history = HistoricalRecords()

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-received_on", "-pk"]
        verbose_name = verbose_name_plural = _("回款")

    def __str__(self) -> str:
        return f"¥{self.amount} {self.received_on}"

    def save(self, *args, **kwargs):
        # T7: recorded money never changes; a mistake is reversed by a counter-entry (C5). Only
        # what is named once may still be filled in: finance's approval and the pusher (T4).
        refuse_change_except_filling(self, fill_once=("approved_by_id", "approved_at", "pushed_by_id", "pusher_named_by_id"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RecordIsFrozen(f"Payment {self.pk} is recorded money; it is never deleted (reverse it)")

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None

    @property
    def is_verified(self) -> bool:
        """Money the company demonstrably has: confirmed against a bank row or approved by finance."""
        return self.statement_row_id is not None or self.approved_at is not None


class PaymentCreditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise RecordIsFrozen("push credits change through leads.cash.deals only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise RecordIsFrozen("push credits change through leads.cash.deals only")

    def delete(self):
        raise RecordIsFrozen("push credits are never deleted; they are revoked")


class PaymentCredit(models.Model):
    """回款推动 earned once per instalment (T4): the payment whose verified money brought the
    instalment to the minimum share, credited to the pusher someone else named. At most one active
    credit per instalment (database constraint); revoking it (a reversal) appends the negative
    activity and lets a later verified payment earn it again."""

    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="credits", verbose_name=_("应收款"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="credits", verbose_name=_("回款"))
    pusher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_credits", verbose_name=_("回款推动人"))
    named_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("指定人"))
    basis = models.CharField(_("核实方式"), max_length=10, choices=[("bank", _("银行流水")), ("finance", _("财务批准"))])
    created_at = models.DateTimeField(_("计入时间"), default=timezone.now)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    revoked_reason = models.CharField(_("撤销原因"), max_length=200, blank=True)
    history = HistoricalRecords()

    objects = PaymentCreditQuerySet.as_manager()

    def save(self, *args, **kwargs):
        # T7/T5: a credit is written once; revoking it (a reversal) fills the revocation once.
        refuse_change_except_filling(self, fill_once=("revoked_at", "revoked_reason"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RecordIsFrozen(f"PaymentCredit {self.pk} is never deleted; it is revoked")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["receivable"], condition=Q(revoked_at__isnull=True), name="one_active_push_credit_per_instalment")
        ]
        verbose_name = verbose_name_plural = _("回款推动记录")

    def __str__(self) -> str:
        return f"{self.pusher} · {self.receivable}"


# --- Bank statements (C3) ---------------------------------------------------------------------


class BankAccount(models.Model):
    """Our own account at a bank, with the column map its exports use. The map is configured (from
    a preset, then edited in admin), never guessed: see `leads.cash.bankfiles`."""

    name = models.CharField(_("账户名称"), max_length=60, unique=True)
    bank = models.CharField(_("银行格式预设"), max_length=30, help_text=_("选择预设后保存，空列映射会按预设填写。"))
    account_number = models.CharField(_("账号"), max_length=40, blank=True)
    column_map = models.JSONField(_("列映射"), default=dict, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = _("银行账户")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .bankfiles import PRESETS, validate_column_map

        if not self.column_map and self.bank in PRESETS:
            self.column_map = dict(PRESETS[self.bank]["map"])
        validate_column_map(self.column_map)


class StatementLayout(models.Model):
    """A column map a clerk made for a layout no preset knew (F1), found again by the header row's
    fingerprint: the next file with the same header imports without the form, for any account."""

    name = models.CharField(_("格式名称"), max_length=80)
    fingerprint = models.CharField(_("表头指纹"), max_length=32, unique=True)
    header = models.JSONField(_("表头"), default=list)
    column_map = models.JSONField(_("列映射"), default=dict)
    account = models.ForeignKey(BankAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="layouts", verbose_name=_("首次用于账户"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("创建人"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = _("流水文件格式")

    def __str__(self) -> str:
        return self.name


class StatementStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    PROCESSING = "processing", _("处理中")
    DONE = "done", _("已导入")
    FAILED = "failed", _("未导入（文件有错误）")
    NEEDS_LAYOUT = "layout", _("格式未识别，待设置列映射")


def statement_upload_path(instance: "BankStatement", filename: str) -> str:
    import uuid

    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"bank-statements/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{suffix}"


class BankStatement(models.Model):
    """One uploaded export. Imported atomically by a task: every row or none, with line errors."""

    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="statements", verbose_name=_("银行账户"))
    file = models.FileField(_("文件"), upload_to=statement_upload_path)
    original_name = models.CharField(_("文件名"), max_length=255)
    sha256 = models.CharField(max_length=64, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人"))
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)
    status = models.CharField(_("状态"), max_length=12, choices=StatementStatus.choices, default=StatementStatus.QUEUED, db_index=True)
    encoding = models.CharField(_("编码"), max_length=20, blank=True)
    header_line = models.PositiveIntegerField(_("表头行"), null=True, blank=True)
    total_rows = models.PositiveIntegerField(_("数据行"), default=0)
    new_rows = models.PositiveIntegerField(_("新增行"), default=0)
    duplicate_rows = models.PositiveIntegerField(_("重复行"), default=0)
    skipped_rows = models.PositiveIntegerField(_("跳过的合计/空行"), default=0)
    proposals = models.PositiveIntegerField(_("匹配建议"), default=0)
    error = models.TextField(_("错误"), blank=True)
    line_errors = models.JSONField(_("行错误"), default=list, blank=True)
    layout = models.CharField(_("识别的格式"), max_length=80, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["line_errors"])

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = verbose_name_plural = _("银行流水文件")

    def __str__(self) -> str:
        return self.original_name


class RowStatus(models.TextChoices):
    PROPOSED = "proposed", _("高置信度待确认")
    REVIEW = "review", _("待人工复核")
    PARTIAL = "partial", _("部分分配")
    MATCHED = "matched", _("已确认回款")
    REFUNDED = "refunded", _("余额已退回")
    IGNORED = "ignored", _("非我方款项")
    OUTGOING = "outgoing", _("支出")


OPEN_ROW_STATUSES = ("proposed", "review", "partial")


STATEMENT_FACTS = (
    "statement_id", "account_id", "line_number", "booked_on", "booked_time", "amount", "balance", "balance_text", "reference",
    "payer_name", "payer_account", "memo", "dedupe_key",
)


class StatementRowQuerySet(FactFieldsQuerySet):
    # T7: what the bank file says never changes; only the row's handling (status, allocation) moves.
    fact_fields = STATEMENT_FACTS


class StatementRow(models.Model):
    statement = models.ForeignKey(BankStatement, on_delete=models.PROTECT, related_name="rows", verbose_name=_("流水文件"))
    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="rows", verbose_name=_("银行账户"))
    line_number = models.PositiveIntegerField(_("行号"))
    booked_on = models.DateField(_("交易日期"), db_index=True)
    booked_time = models.CharField(_("交易时间"), max_length=20, blank=True)
    amount = models.DecimalField(_("金额（收入为正）"), **MONEY)
    balance = models.DecimalField(_("余额"), null=True, blank=True, **MONEY)
    balance_text = models.CharField(_("余额（原文）"), max_length=40, blank=True)
    reference = models.CharField(_("流水号"), max_length=80, blank=True)
    payer_name = models.CharField(_("对方户名"), max_length=200, blank=True)
    payer_account = models.CharField(_("对方账号"), max_length=80, blank=True)
    payer_key = models.CharField(_("规范化户名"), max_length=200, blank=True, db_index=True)
    memo = models.CharField(_("摘要/附言"), max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=64)
    status = models.CharField(_("状态"), max_length=10, choices=RowStatus.choices, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("确认人")
    )
    decided_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    # C5: how much of the row is allocated to receivables (net of reversals) and how much was closed
    # otherwise (refunded to the payer, or not ours); the rest is the remainder still to place.
    allocated_amount = models.DecimalField(_("已分配金额"), default=ZERO, **MONEY)
    closed_amount = models.DecimalField(_("已退回/非我方金额"), default=ZERO, **MONEY)
    closed_as = models.CharField(_("余额处理"), max_length=10, blank=True)
    closed_reason = models.CharField(_("处理说明"), max_length=200, blank=True)
    history = HistoricalRecords()

    objects = StatementRowQuerySet.as_manager()

    def save(self, *args, **kwargs):
        refuse_field_change(self, STATEMENT_FACTS)  # T7: the bank's facts, by any path
        super().save(*args, **kwargs)

    @property
    def remainder(self) -> Decimal:
        if self.amount <= 0:
            return ZERO
        return self.amount - self.allocated_amount - self.closed_amount

    class Meta:
        ordering = ["booked_on", "line_number"]
        constraints = [models.UniqueConstraint(fields=["account", "dedupe_key"], name="uniq_statement_row_per_account")]
        verbose_name = verbose_name_plural = _("银行流水行")

    def __str__(self) -> str:
        return f"{self.booked_on} {self.payer_name} ¥{self.amount}"


class ProposalKind(models.TextChoices):
    EXACT = "exact", _("金额唯一且付款方已知")
    CANDIDATE = "candidate", _("候选")
    PARTIAL = "partial", _("部分付款")
    COMBINED = "combined", _("合并付款")


class Confidence(models.TextChoices):
    HIGH = "high", _("高")
    MEDIUM = "medium", _("中")
    LOW = "low", _("低")


class ProposalStatus(models.TextChoices):
    OPEN = "open", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    DISMISSED = "dismissed", _("未采用")


class MatchProposal(models.Model):
    """A suggested allocation of one statement row to one or more receivables. Never applied by
    itself: a person confirms (`statement_row_confirm`)."""

    row = models.ForeignKey(StatementRow, on_delete=models.CASCADE, related_name="match_proposals", verbose_name=_("流水行"))
    rank = models.PositiveSmallIntegerField(_("排名"), default=1)
    kind = models.CharField(_("类型"), max_length=10, choices=ProposalKind.choices)
    confidence = models.CharField(_("置信度"), max_length=8, choices=Confidence.choices)
    score = models.PositiveSmallIntegerField(_("得分"), default=0)
    reasons = models.JSONField(_("依据"), default=list, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.OPEN, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["row", "rank"]
        verbose_name = verbose_name_plural = _("匹配建议")

    def __str__(self) -> str:
        return f"{self.row} → #{self.rank} ({self.get_kind_display()})"


class MatchAllocation(models.Model):
    proposal = models.ForeignKey(MatchProposal, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("匹配建议"))
    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="+", verbose_name=_("应收款"))
    amount = models.DecimalField(_("分配金额"), **MONEY)
    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = verbose_name_plural = _("匹配分配")


class PayerAlias(models.Model):
    """A payer name seen on statements that belongs to a hospital ("known payer"). Learned when a
    person confirms a match; ops can add or correct them in admin."""

    payer_key = models.CharField(_("规范化户名"), max_length=200, unique=True)
    payer_name = models.CharField(_("对方户名"), max_length=200)
    payer_account = models.CharField(_("对方账号"), max_length=80, blank=True, db_index=True)
    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="payer_aliases", verbose_name=_("医院"))
    learned = models.BooleanField(_("确认匹配时学习"), default=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["payer_name"]
        verbose_name = verbose_name_plural = _("已知付款方")

    def __str__(self) -> str:
        return f"{self.payer_name} → {self.hospital}"

    def save(self, *args, **kwargs):
        from .matching import normalise_name

        self.payer_key = normalise_name(self.payer_name)
        super().save(*args, **kwargs)


# --- Receivable plan templates (C6) -----------------------------------------------------------


class PlanTemplate(models.Model):
    """A milestone plan ops keep per product line (e.g. 设备 30/40/20/10 with 质保金 12 months after
    acceptance). Confirming a quote offers the templates of its product line."""

    name = models.CharField(_("模板名称"), max_length=60, unique=True)
    product_line = models.ForeignKey(
        ProductLine, on_delete=models.PROTECT, null=True, blank=True, related_name="plan_templates", verbose_name=_("产品线"),
        help_text=_("空：适用于所有产品线"),
    )
    is_default = models.BooleanField(_("该产品线默认"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["product_line__name", "name"]
        verbose_name = verbose_name_plural = _("回款计划模板")

    def __str__(self) -> str:
        return self.name


class PlanTemplateItem(models.Model):
    template = models.ForeignKey(PlanTemplate, on_delete=models.CASCADE, related_name="items", verbose_name=_("模板"))
    order = models.PositiveSmallIntegerField(_("顺序"), default=1)
    milestone = models.CharField(_("节点"), max_length=12, choices=Milestone.choices)
    percent = models.DecimalField(_("比例（%）"), null=True, blank=True, **PERCENT)
    amount = models.DecimalField(_("固定金额"), null=True, blank=True, **MONEY)
    due_rule = models.CharField(_("到期规则"), max_length=24, choices=DueRule.choices)
    offset_days = models.PositiveSmallIntegerField(_("账期（天）"), default=0)
    offset_months = models.PositiveSmallIntegerField(_("间隔（月）"), default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "order"]
        verbose_name = verbose_name_plural = _("回款计划模板明细")

    def __str__(self) -> str:
        return f"{self.get_milestone_display()} {self.percent or self.amount}"

    def clean(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise ValidationError(_("比例和固定金额二选一"))
