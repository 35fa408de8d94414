"""Master data, roles, the activity ledger and the notification outbox.

Everything a business user can change is history-tracked (simple_history). The activity ledger is
the exception on purpose: it is append-only, so each row already *is* its own history.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .privacy_models import AccessAction, AccessLog, ConsentBasis, ErasureRecord, PersonalData, PrivacyNotice, RecordIsAppendOnly  # noqa: F401
from .people import person_name


class Role(models.TextChoices):
    REP = "rep", _("销售代表")
    SUPERVISOR = "supervisor", _("主管")
    DIRECTOR = "director", _("总监")
    OPS = "ops", _("运营")


class HospitalGrade(models.TextChoices):
    GRADE_3A = "3A", _("三甲")
    GRADE_2A = "2A", _("二甲")
    PRIVATE = "private", _("民营")


class CoordinateSystem(models.TextChoices):
    WGS84 = "wgs84", "WGS-84"
    GCJ02 = "gcj02", "GCJ-02"
    BD09 = "bd09", "BD-09"


class ContactTitle(models.TextChoices):
    DEAN = "院长", _("院长")
    VICE_DEAN = "副院长", _("副院长")
    DIRECTOR = "主任", _("主任")
    VICE_DIRECTOR = "副主任", _("副主任")
    HEAD_NURSE = "护士长", _("护士长")
    DOCTOR = "医生", _("医生")
    PROCUREMENT = "采购", _("采购")
    EQUIPMENT = "设备科", _("设备科")
    OTHER = "其他", _("其他")


DEAN_TITLES = {ContactTitle.DEAN, ContactTitle.VICE_DEAN}


class ProductLine(models.Model):
    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("产品线"), max_length=40, unique=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = _("产品线")

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    model_number = models.CharField(_("型号"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=120)
    line = models.ForeignKey(ProductLine, on_delete=models.PROTECT, related_name="products", verbose_name=_("产品线"))
    list_price = models.DecimalField(
        _("目录价"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    unit = models.CharField(_("单位"), max_length=10, default="套")
    active = models.BooleanField(_("在售"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["model_number"]
        verbose_name = verbose_name_plural = _("产品")

    def __str__(self) -> str:
        return f"{self.model_number} {self.name}"


class Team(models.Model):
    name = models.CharField(_("团队"), max_length=60, unique=True)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supervised_teams",
        verbose_name=_("主管"),
    )
    region = models.CharField(_("区域"), max_length=40, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = _("团队")

    def __str__(self) -> str:
        return self.name


class Rep(models.Model):
    """The sales profile of a user: role, team and what the assignment engine needs to know."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep")
    role = models.CharField(_("角色"), max_length=12, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="members", verbose_name=_("团队")
    )
    product_lines = models.ManyToManyField(ProductLine, blank=True, related_name="reps", verbose_name=_("负责产品线"))
    grades_served = models.JSONField(
        _("服务医院等级"), default=list, blank=True, help_text=_("例如 [\"3A\", \"2A\"]")
    )
    capacity = models.PositiveSmallIntegerField(_("待办上限"), default=20)
    on_duty = models.BooleanField(_("在岗"), default=True)
    # The days the rep counts in per-rep KPIs (D7/D8): headcount on a working day, anomaly rules.
    started_on = models.DateField(_("入职日期"), null=True, blank=True, help_text=_("空 = 一直在职"))
    left_on = models.DateField(_("离职日期"), null=True, blank=True, help_text=_("最后在职的一天；空 = 仍在职"))
    wecom_userid = models.CharField(_("企业微信ID"), max_length=64, blank=True, db_index=True)
    phone = models.CharField(_("手机"), max_length=20, blank=True)
    history = HistoricalRecords(m2m_fields=[product_lines])  # R9: product-line changes are history too

    class Meta:
        ordering = ["team__name", "user__username"]
        verbose_name = verbose_name_plural = _("销售档案")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        # A history row can outlive its user (U8): "—", not a 500 in the 审计日志.
        try:
            user = self.user
        except ObjectDoesNotExist:
            user = None
        return person_name(user)

    def is_employed_on(self, day) -> bool:
        return (self.started_on is None or self.started_on <= day) and (self.left_on is None or day <= self.left_on)

    def clean(self) -> None:
        if self.started_on and self.left_on and self.left_on < self.started_on:
            raise ValidationError({"left_on": _("离职日期不能早于入职日期")})
        unknown = set(self.grades_served or []) - set(HospitalGrade.values)
        if unknown:
            raise ValidationError({"grades_served": _("未知的医院等级：%s") % ", ".join(sorted(unknown))})


class Hospital(models.Model):
    name = models.CharField(_("医院"), max_length=120, unique=True)
    grade = models.CharField(_("等级"), max_length=10, choices=HospitalGrade.choices)
    city = models.CharField(_("城市"), max_length=40, db_index=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    coordinate_system = models.CharField(
        _("坐标系"), max_length=6, choices=CoordinateSystem.choices, default=CoordinateSystem.WGS84
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["city", "name"]
        verbose_name = verbose_name_plural = _("医院")

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="departments", verbose_name=_("医院"))
    name = models.CharField(_("科室"), max_length=60)
    history = HistoricalRecords()

    class Meta:
        ordering = ["hospital__name", "name"]
        constraints = [models.UniqueConstraint(fields=["hospital", "name"], name="uniq_department_per_hospital")]
        verbose_name = verbose_name_plural = _("科室")

    def __str__(self) -> str:
        return f"{self.hospital.name} {self.name}"


class CustomerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CustomerQuerySet":
        """A3: rep — own and collaborated (has an activity on it); supervisor — the team's; director/ops — all."""
        rep = getattr(user, "rep", None) if user.is_authenticated else None
        if user.is_authenticated and (user.is_superuser or (rep and rep.role in (Role.DIRECTOR, Role.OPS))):
            return self.all()
        if rep is None:
            return self.none()
        if rep.role == Role.SUPERVISOR:
            team_ids = list(user.supervised_teams.values_list("pk", flat=True))
            if rep.team_id:
                team_ids.append(rep.team_id)
            worked_by_team = Activity.objects.filter(customer=OuterRef("pk"), rep__rep__team__in=team_ids)
            return self.filter(Q(owner__rep__team__in=team_ids) | Exists(worked_by_team))
        collaborated = Activity.objects.filter(customer=OuterRef("pk"), rep=user)
        return self.filter(Q(owner=user) | Exists(collaborated))


class Customer(models.Model):
    """A hospital department the company sells to, owned by one rep, worked on by many."""

    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="customers", verbose_name=_("医院"))
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="customers", verbose_name=_("科室")
    )
    name = models.CharField(_("客户名称"), max_length=160)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_customers",
        verbose_name=_("负责人"),
    )
    phone = models.CharField(_("电话"), max_length=20, blank=True, db_index=True)
    notes = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    history = HistoricalRecords()
    # A department's number is usually a switchboard; when it is a person's mobile, it is erased too.
    personal_data = PersonalData(phone=("phone",))

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["hospital", "name"], name="uniq_customer_name_per_hospital")]
        verbose_name = verbose_name_plural = _("客户")

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person at a customer. The title is what a rep says; `title_verified_*` is who in ops or
    supervision confirmed it (T3). Only a verified 院长/副院长 earns 院长级拜访."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("客户"))
    name = models.CharField(_("姓名"), max_length=40)
    title = models.CharField(_("职务"), max_length=10, choices=ContactTitle.choices, default=ContactTitle.DIRECTOR)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    title_verified_as = models.CharField(
        _("已核实职务"), max_length=10, choices=ContactTitle.choices, blank=True, editable=False
    )
    title_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("职务核实人"),
    )
    title_verified_at = models.DateTimeField(_("职务核实时间"), null=True, blank=True, editable=False)
    # P1: on what basis we hold this person's data (imported lists: the source collected consent).
    consent_basis = models.CharField(_("同意依据"), max_length=12, blank=True, choices=ConsentBasis.choices)
    consent_recorded_at = models.DateTimeField(_("同意记录时间"), null=True, blank=True)
    history = HistoricalRecords()
    personal_data = PersonalData(phone=("phone",), names=("name",), context=("customer",))

    class Meta:
        ordering = ["customer__name", "name"]
        verbose_name = verbose_name_plural = _("联系人")

    def __str__(self) -> str:
        return f"{self.name}（{self.get_title_display()}）"

    @property
    def is_dean(self) -> bool:
        return self.title in DEAN_TITLES

    @property
    def title_is_verified(self) -> bool:
        """The title as typed is the title someone entitled confirmed (a later edit unverifies)."""
        return bool(self.title_verified_at) and self.title_verified_as == self.title

    @property
    def verified_title(self) -> str:
        return self.title if self.title_is_verified else ""

    @property
    def is_verified_dean(self) -> bool:
        return self.title_is_verified and self.title in DEAN_TITLES


# --- The spine: the activity ledger -----------------------------------------------------------


class ActivityKind(models.TextChoices):
    """Every kind, with who writes it (see ARCHITECTURE.md). Not a DB-level choice: adding a kind
    is a code change, never a migration."""

    LEAD_INTRODUCED = "lead_introduced", _("线索引入")
    LEAD_ACKNOWLEDGED = "lead_acknowledged", _("线索接收")
    CALL = "call", _("电话")
    VISIT_CHECKIN = "visit_checkin", _("到院签到")
    PHOTO = "photo", _("照片")
    DOCUMENT = "document", _("上传文件")
    SIGNATURE = "signature", _("签字文件")
    VOICE_MEMO = "voice_memo", _("语音备忘")
    NEEDS_CAPTURED = "needs_captured", _("需求记录")
    VISIT_COMPLETED = "visit_completed", _("拜访完成")
    QUOTE_SENT = "quote_sent", _("报价发送")
    QUOTE_CONFIRMED = "quote_confirmed", _("报价确认")
    APPROVAL = "approval", _("审批")
    DEAL_WON = "deal_won", _("成交")
    DEAL_LOST = "deal_lost", _("丢单")
    PAYMENT_RECORDED = "payment_recorded", _("回款推动")  # cash: verified money, once per instalment (T4)
    PAYMENT_REVERSED = "payment_reversed", _("回款冲销")  # cash: the negative of a payment_recorded (T5)


# Counted by the board and KPI 2 ("evidence-backed actions": photo, upload, signature, approval).
EVIDENCE_KINDS = frozenset(
    {ActivityKind.PHOTO, ActivityKind.DOCUMENT, ActivityKind.SIGNATURE, ActivityKind.VOICE_MEMO, ActivityKind.APPROVAL}
)


class LedgerIsAppendOnly(Exception):
    """Raised by any attempt to change or remove an activity row."""


class ActivityQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly("activity rows are never updated")

    def delete(self):
        raise LedgerIsAppendOnly("activity rows are never deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise LedgerIsAppendOnly("activity rows are never updated")

    def evidence_backed(self) -> "ActivityQuerySet":
        return self.filter(kind__in=EVIDENCE_KINDS)


class Activity(models.Model):
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activities", verbose_name=_("销售")
    )
    # Team at the moment of the action, so a transfer does not rewrite a team's past.
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="activities", verbose_name=_("团队")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="activities", verbose_name=_("客户")
    )
    kind = models.CharField(_("类型"), max_length=32)
    occurred_at = models.DateTimeField(_("发生时间"), default=timezone.now)
    recorded_at = models.DateTimeField(_("记录时间"), default=timezone.now, editable=False)
    # The record that proves it (evidence, call, quote version, payment …).
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    # Facts scoring and KPIs read without joining the subject (e.g. {"contact_title": "院长"}).
    facts = models.JSONField(_("事实"), default=dict, blank=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["rep", "occurred_at"], name="activity_rep_day"),
            models.Index(fields=["customer", "occurred_at"], name="activity_customer_time"),
            models.Index(fields=["kind", "occurred_at"], name="activity_kind_time"),
            models.Index(fields=["team", "occurred_at"], name="activity_team_time"),
            models.Index(fields=["subject_type", "subject_id"], name="activity_subject"),
        ]
        constraints = [
            # The same proof never appears twice for the same kind: appends are idempotent.
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id"],
                condition=~Q(subject_id=""),
                name="uniq_activity_per_subject_kind",
            )
        ]
        verbose_name = verbose_name_plural = _("活动台账")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.rep} · {self.occurred_at:%Y-%m-%d %H:%M}"

    def get_kind_display(self) -> str:
        try:
            return str(ActivityKind(self.kind).label)
        except ValueError:
            return self.kind

    @property
    def is_evidence_backed(self) -> bool:
        return self.kind in EVIDENCE_KINDS

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerIsAppendOnly("activity rows are never updated")
        if self.kind not in ActivityKind.values:
            raise ValidationError({"kind": _("未知的活动类型：%s") % self.kind})
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly("activity rows are never deleted")


# --- Notification outbox ----------------------------------------------------------------------


class Channel(models.TextChoices):
    IN_APP = "in_app", _("站内")
    WECOM_APP = "wecom_app", _("企业微信应用消息")
    WECOM_ROBOT = "wecom_robot", _("企业微信群机器人")
    EMAIL = "email", _("邮件")
    CALL_ROBOT = "call_robot", _("外呼机器人")
    WEB_PUSH = "web_push", _("浏览器推送")


class PushSubscription(models.Model):
    """U4: one browser (phone) of a user that accepted Web Push. The endpoint is the push
    service's address for it; `active` is switched off when the service says it is gone."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions", verbose_name=_("用户"))
    endpoint = models.URLField(_("推送地址"), max_length=1000, unique=True)
    p256dh = models.CharField(_("公钥"), max_length=200)
    auth = models.CharField(_("认证密钥"), max_length=100)
    user_agent = models.CharField(_("浏览器"), max_length=300, blank=True)
    active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("订阅时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = _("浏览器推送订阅")

    def __str__(self) -> str:
        return f"{self.user} · {self.user_agent[:40] or self.endpoint[:40]}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("失败（不再重试）")


class Notification(models.Model):
    """One message to one recipient on one channel. Written in the same transaction as the business
    change; a task delivers it. The row is the truth: it keeps every attempt."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("接收人"),
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices, default=Channel.IN_APP)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=500, blank=True)
    payload = models.JSONField(_("附加数据"), default=dict, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=200, unique=True, null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=NotificationStatus.choices, default=NotificationStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), default=timezone.now, db_index=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    # What the outside system answered on success (WeCom msgid, the call robot's call_request_id).
    external_id = models.CharField(_("外部编号"), max_length=100, blank=True)
    # R3: set when a delivery task is queued for the row, cleared when the task has run. The sweep
    # only queues rows without a fresh marker (a conditional update), so it never queues a row twice.
    # A queue marker, not a business fact: left out of the history.
    enqueued_at = models.DateTimeField(_("入队时间"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["enqueued_at"])

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["recipient", "channel", "read_at"], name="notification_inbox"),
            # Retention (R12): delivered rows older than the period, found without a full scan.
            models.Index(fields=["status", "delivered_at"], name="notification_delivered"),
        ]
        verbose_name = verbose_name_plural = _("通知")

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.recipient}: {self.title}"


class CircuitState(models.TextChoices):
    CLOSED = "closed", _("正常")
    OPEN = "open", _("熔断中")
    HALF_OPEN = "half_open", _("试探中")


class ChannelCircuit(models.Model):
    """R3: the circuit breaker of one delivery channel, shared by every worker process through the
    database. After `failure_threshold` consecutive failures or timeouts the channel is *open*:
    nothing is sent on it (rows wait, no worker is tied up) until the cool-down has passed; then one
    worker sends a probe (*half-open*); its success closes the circuit, its failure opens it again.
    State changes are history; the running failure count is not (it changes on every failure)."""

    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices, unique=True)
    state = models.CharField(_("状态"), max_length=10, choices=CircuitState.choices, default=CircuitState.CLOSED)
    consecutive_failures = models.PositiveIntegerField(_("连续失败次数"), default=0)
    opened_at = models.DateTimeField(_("熔断时间"), null=True, blank=True)
    probe_started_at = models.DateTimeField(_("试探开始"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    history = HistoricalRecords(excluded_fields=["consecutive_failures", "probe_started_at", "last_error"])

    class Meta:
        verbose_name = verbose_name_plural = _("通知渠道熔断")

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_state_display()}"


class NotificationAttempt(models.Model):
    """One delivery attempt of an outbox row (append-only): when, how long, and what came back."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    attempt_number = models.PositiveSmallIntegerField(_("第几次"), default=1)
    attempted_at = models.DateTimeField(_("尝试时间"), default=timezone.now)
    ok = models.BooleanField(_("成功"), default=False)
    error_code = models.CharField(_("错误码"), max_length=40, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), default=0)
    detail = models.TextField(_("详情"), blank=True)

    class Meta:
        ordering = ["attempted_at"]
        # Pacing counts the last minute's attempts per channel (WeCom drops the excess silently).
        indexes = [models.Index(fields=["attempted_at"], name="notification_attempt_time")]
        verbose_name = verbose_name_plural = _("发送记录")


# --- Imports ----------------------------------------------------------------------------------


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("客户")
    HOSPITALS = "hospitals", _("医院")


class ImportStatus(models.TextChoices):
    PARSING = "parsing", _("解析中")
    PREVIEW = "preview", _("待确认")
    IMPORTING = "importing", _("导入中")
    DONE = "done", _("已导入")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


def import_upload_path(instance: "ImportJob", filename: str) -> str:
    return f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.xlsx"


class ImportJob(models.Model):
    """An uploaded spreadsheet (A1): parsed in the background (progress shown), previewed with
    per-row errors, then imported atomically on confirmation — all rows or none.

    The parsed lines are staged in `ImportRow` (one row each, written in batches, F5): what the
    file said and what is wrong with it, as codes, so the preview is rendered in the reader's
    language. The workflow lives in salesops/imports.py."""

    kind = models.CharField(_("类型"), max_length=12, choices=ImportKind.choices)
    file = models.FileField(_("文件"), upload_to=import_upload_path)
    original_name = models.CharField(_("文件名"), max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人")
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.PARSING, db_index=True
    )
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已解析行数"), default=0)
    error_count = models.PositiveIntegerField(_("错误行数"), default=0)
    error = models.TextField(_("文件错误"), blank=True)
    created_count = models.PositiveIntegerField(_("已导入条数"), default=0)
    created_at = models.DateTimeField(_("上传时间"), default=timezone.now)
    parsed_at = models.DateTimeField(_("解析完成时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("确认人"),
    )
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    # Progress ticks are not business changes: they are saved without a history row.
    history = HistoricalRecords(excluded_fields=["processed_rows"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = _("导入任务")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.original_name}"

    @property
    def progress_percent(self) -> int:
        if self.status != ImportStatus.PARSING:
            return 100
        return 0 if not self.total_rows else min(100, round(100 * self.processed_rows / self.total_rows))

    @property
    def can_confirm(self) -> bool:
        return self.status == ImportStatus.PREVIEW and self.error_count == 0 and self.total_rows > 0

    @property
    def can_cancel(self) -> bool:
        return self.status in (ImportStatus.PARSING, ImportStatus.PREVIEW)

    @property
    def rows(self) -> list[dict]:
        """Every staged line as {"line", "values", "errors"} (small jobs, tests; pages use `staged_rows`)."""
        return [row.as_json() for row in self.staged_rows.all()]

    @property
    def error_rows(self) -> list[dict]:
        return [row.as_json() for row in self.staged_rows.filter(has_errors=True)]

    @property
    def valid_rows(self) -> list[dict]:
        return [row.as_json() for row in self.staged_rows.filter(has_errors=False)]


class ImportRow(models.Model):
    """One parsed line of an `ImportJob` (F5): staged in batches while the file is parsed, re-checked
    and imported in batches at confirmation, so a 200,000-row file never sits in memory at once.
    A working copy of the uploaded file (kept on the job), not business data: no history of its own;
    the job's history records who uploaded, confirmed or cancelled. `errors` are codes with
    parameters ({"field", "code", "params"}), turned into text in the reader's language."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="staged_rows", verbose_name=_("导入任务"))
    line = models.PositiveIntegerField(_("行号"))
    values = models.JSONField(_("单元格"), default=dict)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    has_errors = models.BooleanField(_("有错误"), default=False)

    class Meta:
        ordering = ["job", "line"]
        verbose_name = verbose_name_plural = _("导入行")
        constraints = [models.UniqueConstraint(fields=["job", "line"], name="import_row_unique_line")]
        indexes = [models.Index(fields=["job", "has_errors", "line"], name="import_row_errors")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line}"

    def as_json(self) -> dict:
        return {"line": self.line, "values": self.values, "errors": self.errors}


# --- User changes are history (R9) ----------------------------------------------------------
# Role and team live on Rep (tracked above); active, staff, name, e-mail and password changes live
# on auth.User. The password hash itself is not copied into history (a change is labelled
# "修改密码" instead), and a login's last_login stamp writes no row (see salesops.user_audit).
def _register_user_history() -> None:
    from django.contrib.auth import get_user_model
    from simple_history import register
    from simple_history.exceptions import MultipleRegistrationsError

    try:
        register(get_user_model(), app="salesops", table_name="salesops_historicaluser", excluded_fields=["password", "last_login"])
    except MultipleRegistrationsError:
        pass


_register_user_history()

