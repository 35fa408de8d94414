"""Routing master data (L10, L11): territories owned by teams, working hours, leave.

Imported by `leads/models.py` (so Django registers them in the `leads` app); the logic that reads
them lives in `leads/territories.py` and `leads/availability.py`. Every model is history-tracked:
the rule simulation (L8) replays past leads with the territories and availability *as they were*
(`Model.history.as_of(moment)`).
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from salesops.models import Hospital, Team


class Territory(models.Model):
    """A group of cities / districts / hospitals owned by one team (L10)."""

    name = models.CharField(_("辖区"), max_length=60, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="territories", verbose_name=_("负责团队"))
    active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["team__name", "name"]
        verbose_name = verbose_name_plural = _("辖区")

    def __str__(self) -> str:
        return self.name


class TerritoryArea(models.Model):
    """One piece of a territory: a whole city, a district of a city, or a single hospital. The most
    specific piece wins (hospital, then district, then city); each piece belongs to one territory."""

    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="areas", verbose_name=_("辖区"))
    city = models.CharField(_("城市"), max_length=40, blank=True, db_index=True, help_text=_("如「杭州」，不带「市」"))
    district = models.CharField(_("区县"), max_length=40, blank=True, help_text=_("如「西湖」；按医院地址匹配"))
    hospital = models.ForeignKey(
        Hospital, on_delete=models.CASCADE, null=True, blank=True, related_name="territory_areas", verbose_name=_("医院")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["territory__name", "city", "district"]
        constraints = [
            models.UniqueConstraint(fields=["hospital"], condition=Q(hospital__isnull=False), name="territory_area_one_per_hospital"),
            models.UniqueConstraint(
                fields=["city", "district"], condition=Q(hospital__isnull=True), name="territory_area_one_per_place"
            ),
        ]
        verbose_name = verbose_name_plural = _("辖区范围")

    def __str__(self) -> str:
        if self.hospital_id:
            return str(self.hospital)
        return f"{self.city}{'·' + self.district if self.district else ''}"

    def clean(self) -> None:
        self.city, self.district = self.city.strip().removesuffix("市"), self.district.strip()
        if self.hospital_id and (self.city or self.district):
            raise ValidationError(_("按医院划分时不填城市和区县"))
        if not self.hospital_id and not self.city:
            raise ValidationError({"city": _("请填写城市，或选择一家医院")})


class DayRule(models.TextChoices):
    WORKDAYS = "workdays", _("法定工作日（含调休）")
    WEEKDAYS = "weekdays", _("周一至周五")
    EVERY_DAY = "every_day", _("每天")


class WorkSchedule(models.Model):
    """Working hours of a team, or of one rep (which wins over the team's). Without any schedule
    a rep counts as working whenever on duty (L11)."""

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="work_schedule", verbose_name=_("团队")
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="work_schedule", verbose_name=_("销售")
    )
    day_rule = models.CharField(_("工作日"), max_length=10, choices=DayRule.choices, default=DayRule.WORKDAYS)
    start_time = models.TimeField(_("上班时间"), default=time(8, 30))
    end_time = models.TimeField(_("下班时间"), default=time(18, 0), help_text=_("早于上班时间表示跨夜班次"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(team__isnull=False) & Q(user__isnull=True)) | (Q(team__isnull=True) & Q(user__isnull=False)),
                name="work_schedule_team_xor_user",
            )
        ]
        verbose_name = verbose_name_plural = _("工作时间")

    def __str__(self) -> str:
        who = self.team or self.user
        return f"{who} {self.start_time:%H:%M}–{self.end_time:%H:%M}"

    def clean(self) -> None:
        if bool(self.team_id) == bool(self.user_id):
            raise ValidationError(_("工作时间属于一个团队或一名销售（二选一）"))
        if self.start_time == self.end_time:
            raise ValidationError({"end_time": _("下班时间不能等于上班时间")})


class LeaveKind(models.TextChoices):
    ANNUAL = "annual", _("年假")
    SICK = "sick", _("病假")
    PERSONAL = "personal", _("事假")
    TRAINING = "training", _("培训/会议")
    OTHER = "other", _("其他")


class Leave(models.Model):
    """A period a rep takes no leads (L11): [starts_at, ends_at)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leaves", verbose_name=_("销售"))
    kind = models.CharField(_("类型"), max_length=10, choices=LeaveKind.choices, default=LeaveKind.ANNUAL)
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at"]
        # Read on every decision: the leaves not yet over, a short range scan.
        indexes = [models.Index(fields=["ends_at", "starts_at"], name="leave_current")]
        verbose_name = verbose_name_plural = _("请假")

    def __str__(self) -> str:
        start, end = timezone.localtime(self.starts_at), timezone.localtime(self.ends_at)
        return f"{self.user} {self.get_kind_display()} {start:%m-%d %H:%M}–{end:%m-%d %H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("结束时间必须晚于开始时间")})
