"""Leads: intake, dedupe, assignment, acknowledgement, escalation, contact attempts (L1–L8).

Contract fields of `Lead` (see briefs/contracts): customer, contact_name, phone (E.164),
product_model, product, hospital, hospital_grade, source, status, introduced_by, assignee,
created_at, assigned_at, acknowledged_at, escalated_at, first_effective_contact_at, last_contact_at.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from salesops.guards import FactFieldsQuerySet, GuardedQuerySet, RecordIsFrozen, refuse_frozen_change
from salesops.models import Channel, ConsentBasis, Customer, Hospital, HospitalGrade, Notification, PersonalData, Product, RecordIsAppendOnly, Role


class AppendOnlyModel(models.Model):
    """A fact once written (a decision, a receipt, a repeat contact): the row is its own history,
    so it opts out of simple_history (`_meta.append_only`, read by tests/salesops/test_audit.py)
    and refuses updates and deletes through the ORM instance API."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RecordIsAppendOnly(f"{self.__class__.__name__} rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RecordIsAppendOnly(f"{self.__class__.__name__} rows are never deleted")


def one_or_none(queryset: models.QuerySet):
    """The row of a lookup by a unique key, or None. Unlike `.first()` it adds no ORDER BY
    (Meta.ordering or pk) — noticeable on the intake hot path, pointless for one row."""
    return next(iter(queryset.order_by()[:1]), None)


def append_only(model: type[models.Model]) -> type[models.Model]:
    model._meta.append_only = True
    return model


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
# R8: a repeat contact on a lead in one of these states opens a new lead linked to it.
CLOSED_LEAD_STATUSES = (LeadStatus.CONVERTED, LeadStatus.CLOSED)
# The board's red light: an open lead nobody followed up for this long.
NOT_FOLLOWED_UP_AFTER = timedelta(hours=48)


class LeadQuerySet(models.QuerySet):
    def open(self) -> "LeadQuerySet":
        return self.filter(status__in=OPEN_LEAD_STATUSES)

    def visible_to(self, user) -> "LeadQuerySet":
        """A3: rep — assigned to or introduced by them; supervisor — their teams' leads and the
        unassigned pool; director/ops — everything."""
        from salesops.access import role_of, team_ids_of

        role = role_of(user)
        if role in (Role.DIRECTOR, Role.OPS):
            return self.all()
        if role == Role.SUPERVISOR:
            from salesops.models import Rep

            # K1: IN-subqueries instead of joins through the rep profile: no row can match twice,
            # so no DISTINCT, and the list keeps reading its index in order.
            team_members = Rep.objects.filter(team__in=team_ids_of(user)).values("user_id")
            return self.filter(
                Q(assignee__in=team_members) | Q(introduced_by__in=team_members) | Q(assignee=user) | Q(assignee__isnull=True)
            )
        if role == Role.REP:
            return self.filter(Q(assignee=user) | Q(introduced_by=user))
        return self.none()

    def overdue(self, now: datetime, minutes: int) -> "LeadQuerySet":
        """Assigned, not acknowledged, past the acknowledgement deadline."""
        return self.filter(
            status=LeadStatus.ASSIGNED, acknowledged_at__isnull=True, assigned_at__lte=now - timedelta(minutes=minutes)
        )

    def not_followed_up(self, now: datetime) -> "LeadQuerySet":
        """Open leads whose coalesce(last_contact_at, assigned_at) is older than 48 h (D1 red light)."""
        limit = now - NOT_FOLLOWED_UP_AFTER
        return self.open().filter(
            Q(last_contact_at__lt=limit) | Q(last_contact_at__isnull=True, assigned_at__lt=limit)
        )


# K1: the lead lists read "overdue first" from an index instead of sorting a computed CASE over the
# whole table. Unacknowledged leads (new or assigned) share rank 0; the few assigned within the
# acknowledgement timeout (rank 1 on screen) are read apart by time (see leads/listing.py).
QUEUE_RANK_UNACKNOWLEDGED, QUEUE_RANK_ACKNOWLEDGED, QUEUE_RANK_CONTACTED, QUEUE_RANK_DONE = 0, 2, 3, 4
QUEUE_RANK = models.Case(
    models.When(status__in=(LeadStatus.NEW, LeadStatus.ASSIGNED), then=models.Value(QUEUE_RANK_UNACKNOWLEDGED)),
    models.When(status=LeadStatus.ACKNOWLEDGED, then=models.Value(QUEUE_RANK_ACKNOWLEDGED)),
    models.When(status=LeadStatus.CONTACTED, then=models.Value(QUEUE_RANK_CONTACTED)),
    default=models.Value(QUEUE_RANK_DONE),
)


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
    # The KPI clock (D7) starts at the FIRST assignment; a reassignment resets assigned_at only.
    first_assigned_at = models.DateTimeField(_("首次分配时间"), null=True, blank=True, db_index=True)
    acknowledged_at = models.DateTimeField(_("接收时间"), null=True, blank=True)
    acknowledged_via = models.CharField(_("接收方式"), max_length=12, blank=True)
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    first_effective_contact_at = models.DateTimeField(_("首次有效联系"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("最近跟进"), null=True, blank=True)
    repeat_count = models.PositiveIntegerField(_("重复咨询次数"), default=0)
    last_repeat_at = models.DateTimeField(_("最近重复咨询"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True, db_index=True)  # K4: the scoring sweep reads what changed
    close_reason = models.CharField(_("关闭原因"), max_length=200, blank=True)
    # L11: set while nobody can take the lead (off duty, on leave, off hours, full); cleared on assignment.
    unassigned_reason = models.CharField(_("未分配原因"), max_length=200, blank=True)
    previous_lead = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_up_leads", verbose_name=_("上一条线索"),
        help_text=_("同一电话在已关闭/已转化的线索之后再次咨询"),
    )
    # P1: what the person consented to, when and through which channel (or why none was asked here).
    consent_basis = models.CharField(_("同意依据"), max_length=12, choices=ConsentBasis.choices, blank=True)
    consent_notice_version = models.CharField(_("隐私说明版本"), max_length=20, blank=True)
    consent_given_at = models.DateTimeField(_("同意时间"), null=True, blank=True)
    consent_channel = models.CharField(_("同意渠道"), max_length=40, blank=True)
    # P4/P5: set when the person's fields were pseudonymised (erasure request or retention).
    pseudonymised_at = models.DateTimeField(_("匿名化时间"), null=True, blank=True)
    # Computed by the database from `status` on every write path (save, update, bulk_create, admin).
    queue_rank = models.GeneratedField(
        expression=QUEUE_RANK, output_field=models.PositiveSmallIntegerField(), db_persist=True, verbose_name=_("排序档")
    )
    history = HistoricalRecords(excluded_fields=["queue_rank"])
    personal_data = PersonalData(phone=("phone",), names=("contact_name",), text=("note",), context=("customer",))

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["assignee", "status"], name="lead_assignee_status"),
            models.Index(fields=["status", "assigned_at"], name="lead_status_assigned"),
            # Open workload per rep is counted on every intake: a range scan of the open rows only.
            models.Index(fields=["status", "assignee"], name="lead_open_load"),
            # Round-robin tie-break: each tied rep's most recent assignment, one index seek each.
            models.Index(fields=["assignee", "assigned_at"], name="lead_assignee_recent"),
            # K1: the lists' order (overdue/new first, then acknowledged, contacted, done; newest first).
            models.Index(fields=["queue_rank", "-created_at", "-id"], name="lead_queue_order"),
            models.Index(fields=["assignee", "queue_rank", "-created_at", "-id"], name="lead_assignee_queue"),
        ]
        verbose_name = verbose_name_plural = _("线索")

    def __str__(self) -> str:
        return f"{self.contact_name} {self.product_model}".strip()

    def save(self, *args, **kwargs):
        # An invariant of the row, not a workflow: whichever door assigns the lead (intake, the
        # pending sweep, a reassignment, admin), the first assignment time is kept once (D7).
        if self.assigned_at and self.first_assigned_at is None:
            self.first_assigned_at = self.assigned_at
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "first_assigned_at"}
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LEAD_STATUSES

    def is_overdue(self, now=None, minutes: int = 3) -> bool:
        now = now or timezone.now()
        return bool(
            self.assigned_at and not self.acknowledged_at and now - self.assigned_at >= timedelta(minutes=minutes)
        )

    def is_not_followed_up(self, now=None) -> bool:
        now = now or timezone.now()
        since = self.last_contact_at or self.assigned_at
        return bool(self.is_open and since and now - since > NOT_FOLLOWED_UP_AFTER)

    @property
    def hospital_display(self) -> str:
        return self.hospital.name if self.hospital_id else self.hospital_name

    @property
    def seconds_to_ack(self) -> int | None:
        if self.assigned_at and self.acknowledged_at:
            return max(0, int((self.acknowledged_at - self.assigned_at).total_seconds()))
        return None


# Sources whose leads must carry the person's own consent unless ops configure otherwise (P1).
CONSENT_REQUIRED_SOURCES = (LeadSource.WEBSITE, LeadSource.WEB_FORM)


class SourceConsent(models.Model):
    """P1: per lead source, whether the person's consent was collected elsewhere (a phone call's
    recorded notice, an exhibition sign-up sheet, a referral) — then intake records that basis;
    otherwise every lead from the source must carry the consent the person gave (API, form)."""

    source = models.CharField(_("来源渠道"), max_length=16, choices=LeadSource.choices, unique=True)
    collected_elsewhere = models.BooleanField(
        _("已另行取得同意"), default=False, help_text=_("勾选后，该渠道进线无需随附本人同意记录")
    )
    note = models.CharField(_("说明"), max_length=200, blank=True, help_text=_("在哪里、如何取得同意"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["source"]
        verbose_name = verbose_name_plural = _("渠道同意设置")

    def __str__(self) -> str:
        return self.get_source_display()

    @classmethod
    def collected_elsewhere_for(cls, source: str) -> bool:
        """The configured answer; without a row (a flushed database) the shipped default."""
        row = one_or_none(cls.objects.filter(source=source).values_list("collected_elsewhere", flat=True))
        return bool(row) if row is not None else source not in CONSENT_REQUIRED_SOURCES


class RulesStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    LIVE = "live", _("生效中")
    RETIRED = "retired", _("已停用")


class OwnerPolicy(models.TextChoices):
    """L9: what a lead for a customer (or hospital) with an active owner does."""

    ALWAYS = "always", _("始终给负责人（不在岗/满额也给）")
    WHEN_ELIGIBLE = "when_eligible", _("负责人可接时给负责人，否则给其团队")
    OFF = "off", _("不考虑客户归属")


class AssignmentRulesQuerySet(GuardedQuerySet):
    def frozen_rows(self) -> Q:
        # T7: a published (live or retired) version never changes nor goes, in bulk either.
        return ~Q(status=RulesStatus.DRAFT)


class AssignmentRules(models.Model):
    """One version of the assignment weights and rules (L4, L8). Exactly one version is live;
    drafts are edited and simulated, then published; a published version is never edited again,
    so every stored decision points at the exact weights that made it."""

    version = models.PositiveIntegerField(_("版本"), unique=True)
    status = models.CharField(_("状态"), max_length=8, choices=RulesStatus.choices, default=RulesStatus.DRAFT)
    weight_grade = models.PositiveSmallIntegerField(
        _("医院等级匹配权重"), default=30, validators=[MaxValueValidator(100)]
    )
    weight_product_line = models.PositiveSmallIntegerField(
        _("产品线匹配权重"), default=40, validators=[MaxValueValidator(100)]
    )
    weight_workload = models.PositiveSmallIntegerField(_("待办负荷权重"), default=30, validators=[MaxValueValidator(100)])
    # Second wave (L9, L10, L12). Versions published before it keep 0 / off / 0 (their meaning).
    weight_territory = models.PositiveSmallIntegerField(
        _("辖区匹配权重"), default=40, validators=[MaxValueValidator(100)],
        help_text=_("医院所在辖区属于销售所在团队得满分"),
    )
    owner_policy = models.CharField(
        _("客户归属"), max_length=16, choices=OwnerPolicy.choices, default=OwnerPolicy.WHEN_ELIGIBLE
    )
    tie_band = models.DecimalField(
        _("同分区间（分）"), max_digits=4, decimal_places=1, default=Decimal("2.0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("20"))],
        help_text=_("与最高分相差不超过该分数的销售视为同分，按最久未分配轮转"),
    )
    ack_timeout_minutes = models.PositiveSmallIntegerField(
        _("接收时限（分钟）"), default=3, validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text=_("超过时限未接收即升级：通知主管并请外呼机器人首呼"),
    )
    dedupe_window_days = models.PositiveSmallIntegerField(
        _("查重窗口（天）"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("同一电话在窗口内再次进线，并入原线索"),
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("发布人")
    )
    history = HistoricalRecords()

    objects = AssignmentRulesQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="live"), name="one_live_assignment_rules")
        ]
        verbose_name = verbose_name_plural = _("分配规则")

    def __str__(self) -> str:
        return f"v{self.version} {self.get_status_display()}"

    def clean(self) -> None:
        if not (self.weight_grade + self.weight_product_line + self.weight_workload + self.weight_territory):
            raise ValidationError(_("权重不能全为 0"))

    def save(self, *args, **kwargs):
        # T7: a published version is never edited nor turned back into a draft, by any path.
        from salesops.guards import refuse_frozen_change

        refuse_frozen_change(
            self, is_frozen=lambda stored: stored["status"] != RulesStatus.DRAFT, mutable=("status",), back_to=("status", RulesStatus.DRAFT)
        )
        refuse_frozen_change(self, is_frozen=lambda stored: stored["status"] == RulesStatus.RETIRED)  # retired stays retired
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        stored = type(self)._base_manager.filter(pk=self.pk).values_list("status", flat=True).first()
        if stored is not None and stored != RulesStatus.DRAFT:
            raise RecordIsFrozen(f"AssignmentRules v{self.version} was published; it is never deleted")
        return super().delete(*args, **kwargs)

    @property
    def weights(self) -> tuple[int, int, int, int]:
        return self.weight_grade, self.weight_product_line, self.weight_workload, self.weight_territory

    @classmethod
    def live(cls, *, for_update: bool = False) -> "AssignmentRules":
        """The live version (created with the defaults on a fresh database). `for_update` locks its
        row: every assignment takes this lock, so two intakes never read the same workloads."""
        queryset = cls.objects.filter(status=RulesStatus.LIVE)
        if for_update:
            queryset = queryset.select_for_update()
        rules = one_or_none(queryset)
        if rules is None:  # a fresh (or flushed) database: start from the defaults
            next_version = (cls.objects.aggregate(last=models.Max("version"))["last"] or 0) + 1
            try:
                with transaction.atomic():
                    rules = cls.objects.create(
                        version=next_version, status=RulesStatus.LIVE, published_at=timezone.now(), note="默认规则"
                    )
            except IntegrityError:  # a concurrent request created it first
                rules = queryset.get()
        return rules


class DecisionKind(models.TextChoices):
    AUTO = "auto", _("自动分配")
    MANUAL = "manual", _("主管改派")


class DecisionBasis(models.TextChoices):
    """What decided an automatic assignment (L9–L12)."""

    OWNER = "owner", _("客户负责人")
    OWNER_FORCED = "owner_forced", _("客户负责人（始终归属）")
    OWNER_TEAM = "owner_team", _("负责人所在团队")
    SCORE = "score", _("综合得分")
    NOBODY = "nobody", _("无人可接")


@append_only
class AssignmentDecision(AppendOnlyModel):
    """Why a lead went to whom: the rules version, the ranked candidates with their score
    breakdown, and how many reps were skipped and why ("why this rep")."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="decisions", verbose_name=_("线索"))
    kind = models.CharField(_("方式"), max_length=8, choices=DecisionKind.choices, default=DecisionKind.AUTO)
    rules = models.ForeignKey(
        AssignmentRules, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions", verbose_name=_("规则版本")
    )
    chosen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("分配给")
    )
    previous_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("原负责人")
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("操作人")
    )
    decided_at = models.DateTimeField(_("决策时间"), default=timezone.now)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    # [{"user_id", "name", "team", "grade_fit", "line_fit", "workload_fit", "open", "capacity", "score", "rank"}]
    candidates = models.JSONField(_("候选人评分"), default=list, blank=True)
    skipped = models.JSONField(_("跳过"), default=dict, blank=True)  # {"off_duty": n, "at_capacity": n}
    eligible_count = models.PositiveIntegerField(_("合格候选人数"), default=0)
    tie_size = models.PositiveIntegerField(_("同分人数"), default=0)
    duration_us = models.PositiveIntegerField(_("决策耗时（微秒）"), default=0)
    basis = models.CharField(_("依据"), max_length=16, choices=DecisionBasis.choices, blank=True)
    # {"owner": {"id", "name", "team_id", "source"}, "territory": {"name", "team_ids"}, "policy", "band",
    #  "override": {...warnings a manual reassignment overrode}}
    context = models.JSONField(_("分配依据"), default=dict, blank=True)

    class Meta:
        ordering = ["-decided_at", "-pk"]
        verbose_name = verbose_name_plural = _("分配决策")

    def __str__(self) -> str:
        return f"{self.lead_id} → {self.chosen_id} ({self.get_kind_display()})"


@append_only
class LeadRepeat(AppendOnlyModel):
    """The same phone came in again within the dedupe window (L3): a repeat contact, not a lead."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="repeats", verbose_name=_("线索"))
    received_at = models.DateTimeField(_("时间"), default=timezone.now)
    source = models.CharField(_("来源渠道"), max_length=16, choices=LeadSource.choices)
    contact_name = models.CharField(_("客户名"), max_length=80)
    product_model = models.CharField(_("意向型号"), max_length=60, blank=True)
    hospital_name = models.CharField(_("医院"), max_length=120, blank=True)
    note = models.TextField(_("备注"), blank=True)
    introduced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("录入人")
    )

    personal_data = PersonalData(via="lead", names=("contact_name",), text=("note",))

    class Meta:
        ordering = ["received_at"]
        verbose_name = verbose_name_plural = _("重复咨询")


class ContactKind(models.TextChoices):
    CALL = "call", _("电话")
    VISIT = "visit", _("到院拜访")


class ContactOutcome(models.TextChoices):
    ANSWERED = "answered", _("接通")
    NO_ANSWER = "no_answer", _("无人接听")
    BUSY = "busy", _("忙线")
    REJECTED = "rejected", _("拒接")
    POWER_OFF = "power_off", _("关机")
    UNREACHABLE = "unreachable", _("无法接通")
    INVALID_NUMBER = "invalid_number", _("空号")
    FAILED = "failed", _("呼叫失败")
    ONSITE = "onsite", _("已到院")


class ContactSource(models.TextChoices):
    REP = "rep", _("销售")
    ROBOT = "robot", _("外呼机器人")


class ContactVerification(models.TextChoices):
    """T8: typed by a rep is a claim; a call-robot callback, a phone-system record or visit
    evidence proves it."""

    SELF_REPORTED = "self_reported", _("自报")
    VERIFIED = "verified", _("已核实")


def first_verified_contact():
    """T8: the time of a lead's first *verified* effective contact, as an expression over Lead rows:
    the earliest of an effective contact attempt proven by the call robot's callback or a
    phone-system record (`verification`), and a completed visit to the lead's customer since the
    lead came in (a visit completes only with its evidence file: photo of the door plate …)."""
    from django.db.models import OuterRef, Subquery
    from django.db.models.functions import Coalesce, Least

    from visits.models import TaskStatus, VisitTask

    attempt = Subquery(
        ContactAttempt.objects.filter(lead=OuterRef("pk"), effective=True, verification=ContactVerification.VERIFIED)
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )
    visit = Subquery(
        VisitTask.objects.filter(customer=OuterRef("customer_id"), status=TaskStatus.COMPLETED, completed_at__gte=OuterRef("created_at"))
        .order_by("completed_at")
        .values("completed_at")[:1]
    )
    # LEAST ignores NULL on PostgreSQL but not on SQLite: coalesce each side with the other.
    return Least(Coalesce(attempt, visit), Coalesce(visit, attempt))


# L7: a call of at least this long, or an on-site visit, is an effective contact.
EFFECTIVE_CALL_SECONDS = 60


class ContactAttemptQuerySet(FactFieldsQuerySet):
    # T7/T8: what happened, when, how long and on what proof is written once.
    fact_fields = (
        "lead_id", "kind", "source", "by_id", "occurred_at", "duration_seconds", "outcome", "effective", "dialer_call_id",
        "verification", "proof",
    )


class ContactAttempt(models.Model):
    """One call or visit against a lead (L7). Reps' attempts append to the activity ledger; the
    robot's first-touch calls are recorded and shown but are not a rep's follow-up."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="contact_attempts", verbose_name=_("线索"))
    kind = models.CharField(_("方式"), max_length=8, choices=ContactKind.choices)
    source = models.CharField(_("执行方"), max_length=8, choices=ContactSource.choices, default=ContactSource.REP)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("联系人")
    )
    occurred_at = models.DateTimeField(_("时间"), default=timezone.now)
    duration_seconds = models.PositiveIntegerField(_("通话时长（秒）"), default=0)
    outcome = models.CharField(_("结果"), max_length=16, choices=ContactOutcome.choices, default=ContactOutcome.ANSWERED)
    effective = models.BooleanField(_("有效联系"), default=False)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    dialer_call = models.ForeignKey(
        "DialerCall", on_delete=models.SET_NULL, null=True, blank=True, related_name="attempts", verbose_name=_("外呼")
    )
    verification = models.CharField(
        _("核实"), max_length=14, choices=ContactVerification.choices, default=ContactVerification.SELF_REPORTED, db_index=True
    )
    proof = models.CharField(_("核实依据"), max_length=20, blank=True, help_text=_("call_robot / phone_system / visit_evidence"))
    history = HistoricalRecords()

    personal_data = PersonalData(via="lead", text=("note",))
    objects = ContactAttemptQuerySet.as_manager()

    def save(self, *args, **kwargs):
        # T8: a self-reported contact never becomes verified afterwards (nor moves in time), by any path.
        refuse_frozen_change(self, is_frozen=lambda stored: True, mutable=("note",))
        super().save(*args, **kwargs)

    class Meta:
        ordering = ["occurred_at", "pk"]
        verbose_name = verbose_name_plural = _("联系记录")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.duration_seconds}s"


class DialerStatus(models.TextChoices):
    REQUESTED = "requested", _("已请求")
    ANSWERED = "answered", _("接通")
    NO_ANSWER = "no_answer", _("无人接听")
    BUSY = "busy", _("忙线")
    REJECTED = "rejected", _("拒接")
    POWER_OFF = "power_off", _("关机")
    UNREACHABLE = "unreachable", _("无法接通")
    INVALID_NUMBER = "invalid_number", _("空号")
    FAILED = "failed", _("呼叫失败")


class DialerCall(models.Model):
    """A first-touch verification call requested from the call robot at escalation (L6). The
    request itself travels through the outbox (channel call_robot) so it is retried like any
    message; the robot's result comes back through the signed callback."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="dialer_calls", verbose_name=_("线索"))
    external_ref = models.CharField(_("外部编号"), max_length=64, unique=True)
    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("外呼请求")
    )
    status = models.CharField(_("状态"), max_length=16, choices=DialerStatus.choices, default=DialerStatus.REQUESTED)
    requested_at = models.DateTimeField(_("请求时间"), default=timezone.now)
    attempt = models.PositiveSmallIntegerField(_("第几次呼叫"), default=0)
    talk_seconds = models.PositiveIntegerField(_("通话时长（秒）"), default=0)
    answered_at = models.DateTimeField(_("接通时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    hangup_by = models.CharField(_("挂断方"), max_length=20, blank=True)
    intent = models.CharField(_("意向等级"), max_length=20, blank=True)
    transcript = models.JSONField(_("对话"), default=list, blank=True)
    recording_url = models.URLField(_("录音"), max_length=500, blank=True)
    last_event_at = models.DateTimeField(_("最近回调"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["transcript"])

    personal_data = PersonalData(via="lead", text=("transcript", "recording_url"))

    class Meta:
        ordering = ["requested_at"]
        verbose_name = verbose_name_plural = _("外呼")

    def __str__(self) -> str:
        return f"{self.external_ref} {self.get_status_display()}"


@append_only
class WebhookReceipt(AppendOnlyModel):
    """The first answer to a signed request, kept so a replay gets the same answer and changes
    nothing (Standard Webhooks `webhook-id`; the call robot's `event_id`)."""

    endpoint = models.CharField(_("接口"), max_length=20)
    key = models.CharField(_("消息编号"), max_length=200)
    status_code = models.PositiveSmallIntegerField(_("状态码"))
    response = models.JSONField(_("应答"), default=dict)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "key"], name="uniq_webhook_receipt")]
        indexes = [models.Index(fields=["received_at"], name="webhook_receipt_received")]  # retention (R12)
        verbose_name = verbose_name_plural = _("接口回执")


class NotifyChannel(models.Model):
    """Which outbox channels lead notifications use (A4: ops switch them in admin). A channel is
    used only where it is also configured (WeCom secrets, the recipient's WeCom id or e-mail)."""

    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices, unique=True)
    enabled = models.BooleanField(_("启用"), default=True)
    on_assignment = models.BooleanField(_("新线索通知负责人"), default=True)
    on_escalation = models.BooleanField(_("超时通知主管"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["channel"]
        verbose_name = verbose_name_plural = _("通知渠道")

    def __str__(self) -> str:
        return self.get_channel_display()


# Territories, working hours and leave (L10, L11): their own module, registered in this app.
from .routing_models import DayRule, Leave, LeaveKind, Territory, TerritoryArea, WorkSchedule  # noqa: E402,F401
from .paste_jobs import PasteJob, PasteJobStatus  # noqa: E402,F401 - a model of this app (R4 large pastes)
