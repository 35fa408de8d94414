"""Leads: intake, dedupe, assignment, acknowledgement, escalation, contact attempts (L1–L8)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from salesops.models import Customer, Hospital, HospitalGrade, Product


class LeadSource(models.TextChoices):
    WEBSITE = "website", _("官网")
    WEB_FORM = "web_form", _("官网表单")
    WECHAT = "wechat", _("微信群")
    PHONE = "phone", _("电话")
    EXHIBITION = "exhibition", _("展会")
    REFERRAL = "referral", _("转介绍")
    REP = "rep", _("销售自拓")
    OTHER = "other", _("其他")


class LeadStatus(models.TextChoices):
    NEW = "new", _("新线索")
    ASSIGNED = "assigned", _("已分配")
    ACKNOWLEDGED = "acknowledged", _("已接收")
    CONTACTED = "contacted", _("已有效联系")
    CONVERTED = "converted", _("已转化")
    CLOSED = "closed", _("已关闭")


OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.ASSIGNED, LeadStatus.ACKNOWLEDGED)


class LeadQuerySet(models.QuerySet):
    def open(self) -> "LeadQuerySet":
        return self.filter(status__in=OPEN_LEAD_STATUSES)


class Lead(models.Model):
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="leads", verbose_name=_("客户")
    )
    contact_name = models.CharField(_("客户名"), max_length=80)
    phone = models.CharField(_("电话"), max_length=20, db_index=True, help_text=_("E.164，如 +8613800001111"))
    product_model = models.CharField(_("意向型号"), max_length=60, blank=True)
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("意向产品"))
    hospital = models.ForeignKey(Hospital, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("医院"))
    hospital_name = models.CharField(_("医院名称（原文）"), max_length=120, blank=True)
    hospital_grade = models.CharField(_("医院等级"), max_length=10, choices=HospitalGrade.choices, blank=True)
    source = models.CharField(_("来源渠道"), max_length=16, choices=LeadSource.choices, default=LeadSource.OTHER)
    note = models.TextField(_("备注"), blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW, db_index=True)
    introduced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="introduced_leads",
        verbose_name=_("引入人"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_leads",
        verbose_name=_("负责人"),
    )
    created_at = models.DateTimeField(_("进线时间"), default=timezone.now, db_index=True)
    assigned_at = models.DateTimeField(_("分配时间"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("接收时间"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    first_effective_contact_at = models.DateTimeField(_("首次有效联系"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("最近跟进"), null=True, blank=True)
    history = HistoricalRecords()

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["assignee", "status"], name="lead_assignee_status"),
            models.Index(fields=["status", "assigned_at"], name="lead_status_assigned"),
        ]
        verbose_name = verbose_name_plural = _("线索")

    def __str__(self) -> str:
        return f"{self.contact_name} {self.product_model}".strip()

    def is_overdue(self, now=None, minutes: int = 3) -> bool:
        now = now or timezone.now()
        return bool(
            self.assigned_at and not self.acknowledged_at and now - self.assigned_at >= timedelta(minutes=minutes)
        )
