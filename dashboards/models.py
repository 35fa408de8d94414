"""Dashboards (D1–D4): KPI thresholds and their optimisation material, wall-TV screens,
intervention tasks opened by the anomaly rules, and stored report snapshots.

The numbers themselves are never stored here: the board and the KPIs aggregate the ledger and the
lead-to-cash records on the fly; only what people act on (interventions) or receive (reports) is kept.
"""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Kpi(models.TextChoices):
    LEAD_TIMELINESS = "lead_timeliness", _("线索转化时效")
    ACTION_FULLNESS = "action_fullness", _("动作饱满度")
    COLLABORATION_DENSITY = "collaboration_density", _("协同密度")


class Window(models.TextChoices):
    """The period each point of an anomaly run is measured over."""

    DAY = "day", _("自然日")
    WORKING_DAY = "working_day", _("工作日（含调休）")
    WEEK = "week", _("自然周")


class InterventionKind(models.TextChoices):
    REVIEW_ASSIGNMENT = "review_assignment", _("复核分配规则")
    CARE_TASK = "care_task", _("关怀任务")
    CROSS_TRAINING = "cross_training", _("交叉带教计划")


# What each KPI's anomaly opens, and which way is good. Not editable: it is what the KPI *means*.
KPI_INTERVENTION = {
    Kpi.LEAD_TIMELINESS: InterventionKind.REVIEW_ASSIGNMENT,
    Kpi.ACTION_FULLNESS: InterventionKind.CARE_TASK,
    Kpi.COLLABORATION_DENSITY: InterventionKind.CROSS_TRAINING,
}
HIGHER_IS_BETTER = {Kpi.LEAD_TIMELINESS: False, Kpi.ACTION_FULLNESS: True, Kpi.COLLABORATION_DENSITY: True}

# The requirement's defaults (D2); ops may change every one of them in admin.
THRESHOLD_DEFAULTS = {
    Kpi.LEAD_TIMELINESS: {
        "healthy_value": Decimal("120"),
        "trigger_value": Decimal("180"),
        "run_length": 3,
        "window": Window.DAY,
        "unit": "分钟",
        "min_sample": 20,
    },
    Kpi.ACTION_FULLNESS: {
        "healthy_value": Decimal("4.2"),
        "trigger_value": Decimal("3"),
        "run_length": 5,
        "window": Window.WORKING_DAY,
        "unit": "次/人/工作日",
        "min_sample": 20,
    },
    Kpi.COLLABORATION_DENSITY: {
        "healthy_value": Decimal("2.1"),
        "trigger_value": Decimal("1.8"),
        "run_length": 2,
        "window": Window.WEEK,
        "unit": "人/成交客户",
        "min_sample": 3,
    },
}


class Health(models.TextChoices):
    HEALTHY = "healthy", _("健康")
    WATCH = "watch", _("关注")
    ALERT = "alert", _("异常")
    NO_DATA = "no_data", _("无数据")


# T8, KPI 1: which first effective contact counts — every one (self-reported included) or only
# verified ones (call robot callback, phone-system record, visit evidence).
CONTACT_BASIS_CHOICES = [("all", _("全部（含销售自报）")), ("verified", _("仅已核实"))]


class Threshold(models.Model):
    """One row per KPI: the healthy line, the trigger line and run length of its anomaly rule, and
    the material "一键优化建议" links to (D3)."""

    kpi = models.CharField(_("指标"), max_length=32, choices=Kpi.choices, unique=True)
    healthy_value = models.DecimalField(_("健康值"), max_digits=8, decimal_places=2)
    trigger_value = models.DecimalField(
        _("触发值"), max_digits=8, decimal_places=2, help_text=_("越过此值计入连续异常（时效：高于；其余：低于）")
    )
    run_length = models.PositiveSmallIntegerField(
        _("连续周期数"), validators=[MinValueValidator(1)], help_text=_("连续多少个周期越过触发值才开干预任务")
    )
    window = models.CharField(_("统计周期"), max_length=12, choices=Window.choices)
    due_in_days = models.PositiveSmallIntegerField(_("干预任务期限（天）"), default=3, validators=[MinValueValidator(1)])
    lookback_days = models.PositiveSmallIntegerField(
        _("协同回溯天数"),
        default=180,
        validators=[MinValueValidator(1)],
        help_text=_("协同密度：成交前多少天内在该客户上有动作的销售算作参与"),
    )
    min_sample = models.PositiveIntegerField(
        _("最佳团队最小样本"),
        default=20,
        validators=[MinValueValidator(1)],
        help_text=_("一键优化建议：团队至少有这么多样本（时效：线索数；饱满度：人·工作日；协同：成交客户数）才参与“最佳团队”评选"),
    )
    # T8, KPI 1 only: count every effective contact, or only verified ones (phone system, visit evidence).
    contact_basis = models.CharField(
        _("首次有效联系口径"),
        max_length=10,
        choices=CONTACT_BASIS_CHOICES,
        default="all",
        help_text=_("仅用于线索转化时效：总监选择是否只认已核实的联系。"),
    )
    sop_title = models.CharField(_("SOP 文档标题"), max_length=120, blank=True)
    sop_url = models.URLField(_("SOP 文档链接"), blank=True)
    training_video_title = models.CharField(_("培训视频标题"), max_length=120, blank=True)
    training_video_url = models.URLField(_("培训视频链接"), blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kpi"]
        verbose_name = verbose_name_plural = _("KPI 阈值与优化资料")

    def __str__(self) -> str:
        return str(self.get_kpi_display())

    @classmethod
    def for_kpi(cls, kpi: str) -> "Threshold":
        """The configured row, or the requirement's defaults (unsaved) when ops deleted it."""
        found = cls.objects.filter(kpi=kpi).first()
        return found or cls.default(kpi)

    @classmethod
    def all_by_kpi(cls) -> dict[str, "Threshold"]:
        rows = {row.kpi: row for row in cls.objects.all()}
        return {kpi: rows.get(kpi) or cls.default(kpi) for kpi in Kpi.values}

    @classmethod
    def default(cls, kpi: str) -> "Threshold":
        values = {k: v for k, v in THRESHOLD_DEFAULTS[Kpi(kpi)].items() if k != "unit"}
        return cls(kpi=kpi, **values)

    @property
    def higher_is_better(self) -> bool:
        return HIGHER_IS_BETTER[Kpi(self.kpi)]

    @property
    def unit(self) -> str:
        return THRESHOLD_DEFAULTS[Kpi(self.kpi)]["unit"]

    def clean(self) -> None:
        if self.healthy_value is None or self.trigger_value is None:
            return
        if self.higher_is_better and self.trigger_value > self.healthy_value:
            raise ValidationError({"trigger_value": _("该指标越高越好：触发值不能高于健康值。")})
        if not self.higher_is_better and self.trigger_value < self.healthy_value:
            raise ValidationError({"trigger_value": _("该指标越低越好：触发值不能低于健康值。")})

    def breaches(self, value: float | None) -> bool:
        """True when a measured value is beyond the trigger line (one point of an anomaly run)."""
        if value is None:
            return False
        trigger = float(self.trigger_value)
        return value < trigger if self.higher_is_better else value > trigger

    def health(self, value: float | None) -> str:
        if value is None:
            return Health.NO_DATA
        healthy = float(self.healthy_value)
        good = value >= healthy if self.higher_is_better else value <= healthy
        if good:
            return Health.HEALTHY
        return Health.ALERT if self.breaches(value) else Health.WATCH


def new_screen_token() -> str:
    return secrets.token_urlsafe(24)


class TvScreenQuerySet(models.QuerySet):
    def active(self) -> "TvScreenQuerySet":
        return self.filter(revoked_at__isnull=True)


class TvScreen(models.Model):
    """A wall TV without a keyboard: its secret URL shows the board and nothing else."""

    name = models.CharField(_("屏幕名称"), max_length=60, unique=True)
    location = models.CharField(_("位置"), max_length=80, blank=True)
    # A TV has no language cookie and its browser may well be set to English: the screen says.
    language = models.CharField(_("显示语言"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    token = models.CharField(_("访问令牌"), max_length=64, unique=True, default=new_screen_token, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    history = HistoricalRecords()

    objects = TvScreenQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = _("电视大屏")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("dashboards:board_screen", args=[self.token])


class InterventionStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    CLOSED = "closed", _("已关闭")


class InterventionQuerySet(models.QuerySet):
    def open(self) -> "InterventionQuerySet":
        return self.filter(status=InterventionStatus.OPEN)


class Intervention(models.Model):
    """A task opened by an anomaly rule. `occurrence_key` names the anomaly occurrence (KPI, scope,
    first period of the run), so evaluating the same anomaly again never opens a second task."""

    kind = models.CharField(_("类型"), max_length=24, choices=InterventionKind.choices)
    kpi = models.CharField(_("指标"), max_length=32, choices=Kpi.choices)
    occurrence_key = models.CharField(_("异常标识"), max_length=120, unique=True, editable=False)
    team = models.ForeignKey(
        "salesops.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="interventions", verbose_name=_("团队")
    )
    subject_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="interventions_about",
        verbose_name=_("关怀对象"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="interventions", verbose_name=_("负责人")
    )
    title = models.CharField(_("标题"), max_length=200)
    why = models.TextField(_("触发原因"))
    trigger_data = models.JSONField(_("触发数据"), default=dict)
    period_start = models.DateField(_("异常开始"))
    period_end = models.DateField(_("发现时截至"))
    due_on = models.DateField(_("期限"))
    status = models.CharField(
        _("状态"), max_length=8, choices=InterventionStatus.choices, default=InterventionStatus.OPEN, db_index=True
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("关闭人"),
    )
    closing_note = models.TextField(_("处理说明"), blank=True)
    history = HistoricalRecords()

    objects = InterventionQuerySet.as_manager()

    class Meta:
        ordering = ["status", "due_on", "-created_at"]
        indexes = [models.Index(fields=["owner", "status"], name="intervention_owner_status")]
        verbose_name = verbose_name_plural = _("干预任务")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("dashboards:intervention", args=[self.pk])

    def is_overdue(self, today: date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.status == InterventionStatus.OPEN and self.due_on < today


class ReportKind(models.TextChoices):
    DAILY = "daily", _("日报")
    WEEKLY = "weekly", _("周报")


def report_pdf_path(instance: "ReportSnapshot", filename: str) -> str:
    return f"reports/{instance.kind}/{instance.period_start:%Y}/{instance.kind}-{instance.period_start:%Y%m%d}.pdf"


class ReportSnapshot(models.Model):
    """The director's daily/weekly report as generated: the numbers (JSON) and the PDF. Regenerating
    a period replaces its snapshot; the change history keeps who regenerated it and when."""

    kind = models.CharField(_("类型"), max_length=8, choices=ReportKind.choices)
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"), help_text=_("含当天"))
    data = models.JSONField(_("报表数据"), default=dict)
    pdf = models.FileField(_("PDF"), upload_to=report_pdf_path, blank=True)
    generated_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("生成人"),
        help_text=_("为空表示定时任务生成"),
    )
    history = HistoricalRecords(excluded_fields=["data"])

    class Meta:
        ordering = ["-period_start", "kind"]
        constraints = [models.UniqueConstraint(fields=["kind", "period_start"], name="uniq_report_per_period")]
        verbose_name = verbose_name_plural = _("报表快照")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("dashboards:report", args=[self.pk])


class WorkdayOverride(models.Model):
    """A day whose working status ops set by hand. `chinesecalendar` ships each year's official
    调休 schedule only once the State Council publishes it; until a library update arrives, ops
    enter the new year's holidays and make-up working days here (they also win over the library)."""

    day = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是工作日"))
    note = models.CharField(_("说明"), max_length=60, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-day"]
        verbose_name = verbose_name_plural = _("工作日调整")

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {_('上班') if self.is_workday else _('休息')}"


class HolidayNotice(models.Model):
    """A year's 放假调休 schedule as the State Council published it, imported in admin (D6): from
    then on the year counts as covered even before `chinesecalendar` ships it. Its days are
    `WorkdayOverride` rows (each with history); this row keeps the pasted text and who imported it."""

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    text = models.TextField(_("通知原文或日期"))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("导入人")
    )
    imported_at = models.DateTimeField(_("导入时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-year"]
        verbose_name = verbose_name_plural = _("国务院放假调休通知")

    def __str__(self) -> str:
        return _("%(year)s 年放假调休安排") % {"year": self.year}
