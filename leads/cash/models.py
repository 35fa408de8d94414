"""Lead to cash (C1–C3): quotes and their versions, deals, receivables, payments."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from salesops.models import Customer, Hospital, Product


class Quote(models.Model):
    number = models.CharField(_("报价单号"), max_length=30, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="quotes", verbose_name=_("客户"))
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quotes", verbose_name=_("销售"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = _("报价单")

    def __str__(self) -> str:
        return self.number


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SENT = "sent", _("已发送")
    CONFIRMED = "confirmed", _("已确认")
    REJECTED = "rejected", _("已拒绝")
    EXPIRED = "expired", _("已过期")
    SUPERSEDED = "superseded", _("已被新版本取代")


class QuoteVersion(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, related_name="versions", verbose_name=_("报价单"))
    version = models.PositiveIntegerField(_("版本"))
    status = models.CharField(_("状态"), max_length=12, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT, db_index=True)
    subtotal = models.DecimalField(_("不含税合计"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    tax_total = models.DecimalField(_("税额"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(_("含税合计"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("拒绝时间"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["quote", "-version"]
        constraints = [models.UniqueConstraint(fields=["quote", "version"], name="uniq_quote_version")]
        indexes = [models.Index(fields=["status", "sent_at"], name="quoteversion_status_sent")]
        verbose_name = verbose_name_plural = _("报价版本")

    def __str__(self) -> str:
        return f"{self.quote.number} v{self.version}"


class QuoteLine(models.Model):
    version = models.ForeignKey(QuoteVersion, on_delete=models.CASCADE, related_name="lines", verbose_name=_("版本"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, verbose_name=_("产品"))
    quantity = models.PositiveIntegerField(_("数量"), default=1)
    unit_price = models.DecimalField(_("单价"), max_digits=12, decimal_places=2)
    discount_percent = models.DecimalField(_("折扣%"), max_digits=5, decimal_places=2, default=Decimal("0.00"))
    tax_rate_percent = models.DecimalField(_("税率%"), max_digits=5, decimal_places=2, default=Decimal("13.00"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]
        verbose_name = verbose_name_plural = _("报价明细")


class DealStatus(models.TextChoices):
    WON = "won", _("赢单")
    LOST = "lost", _("丢单")


class Deal(models.Model):
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
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    product_summary = models.CharField(_("产品型号"), max_length=200, blank=True)
    closed_at = models.DateTimeField(_("成交时间"), default=timezone.now, db_index=True)
    lost_reason = models.CharField(_("丢单原因"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-closed_at"]
        verbose_name = verbose_name_plural = _("交易")

    def __str__(self) -> str:
        return f"{self.hospital} ¥{self.amount}"


class Receivable(models.Model):
    """One instalment of a deal's receivable."""

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="receivables", verbose_name=_("交易"))
    sequence = models.PositiveSmallIntegerField(_("期次"), default=1)
    amount = models.DecimalField(_("应收金额"), max_digits=14, decimal_places=2)
    due_date = models.DateField(_("到期日"))
    paid_amount = models.DecimalField(_("已收金额"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["deal", "sequence"]
        constraints = [models.UniqueConstraint(fields=["deal", "sequence"], name="uniq_receivable_sequence")]
        verbose_name = verbose_name_plural = _("应收款")


class Payment(models.Model):
    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="payments", verbose_name=_("应收款"))
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
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
    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_on", "-pk"]
        verbose_name = verbose_name_plural = _("回款")
