"""Contribution instead of ownership (S1–S4).

ContributionRule   versioned points per behaviour (S1): the rule in force at an action's time applies.
Contribution       one scored action, derived from the activity that proves it (S2); append-only.
BonusPolicy        how big a won deal's bonus pool is and how far back points count (S3).
BonusSplit         one deal's pool split by points (S3); frozen once approved, corrected by a new
                   split that references the old one (the old one stays as it was).
BonusShare         one rep's share of a split, with the arithmetic that explains it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from leads.cash.models import Deal
from salesops.models import Activity, Customer, Team


class Behaviour(models.TextChoices):
    """The five scored behaviours, in the order a sale usually moves through them."""

    LEAD_INTRODUCED = "lead_introduced", _("线索引入")
    NEEDS_DIAGNOSIS = "needs_diagnosis", _("需求诊断")
    SOLUTION_DEMO = "solution_demo", _("方案演示")
    DEAN_VISIT = "dean_visit", _("院长级拜访")
    PAYMENT_PUSH = "payment_push", _("回款推动")


class RuleIsFrozen(Exception):
    """A rule that points were earned under is never edited in place: publish a new version."""


class ContributionIsAppendOnly(Exception):
    """Contributions are derived once from an immutable proof; they are never changed or removed."""


class SplitIsFrozen(Exception):
    """An approved split never changes: correct it with a new split that references it."""


class ContributionRule(models.Model):
    """Points for one behaviour from `effective_from` on, until a later version of the same
    behaviour takes over. An action scores under the version in force at its `occurred_at`."""

    behaviour = models.CharField(_("行为"), max_length=20, choices=Behaviour.choices)
    points = models.PositiveIntegerField(_("分值"), validators=[MaxValueValidator(1000)])
    effective_from = models.DateTimeField(
        _("生效时间"), default=timezone.now, help_text=_("自此时间起发生的动作按本规则计分；之前的动作不受影响。")
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["behaviour", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["behaviour", "effective_from"], name="uniq_rule_behaviour_effective_from")
        ]
        verbose_name = verbose_name_plural = _("贡献规则")

    def __str__(self) -> str:
        local = timezone.localtime(self.effective_from)
        return gettext("%(behaviour)s +%(points)s（%(time)s 起）") % {
            "behaviour": self.get_behaviour_display(),
            "points": self.points,
            "time": f"{local:%Y-%m-%d %H:%M}",
        }

    def has_earned_points(self) -> bool:
        return self.pk is not None and self.contributions.exists()

    def clean(self) -> None:
        # Forward only: a version may not start before an action that already scored under another
        # version, or recomputing from the ledger would no longer give the points people were shown.
        if not self.behaviour or self.effective_from is None:
            return
        latest = (
            Contribution.objects.filter(behaviour=self.behaviour, occurred_at__gte=self.effective_from)
            .order_by("-occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        if latest is not None:
            raise ValidationError(
                {
                    "effective_from": _(
                        "已有 %(time)s 的动作按现行规则计分；新分值只能向后生效，请选择晚于该时间的生效时间。"
                    )
                    % {"time": f"{timezone.localtime(latest):%Y-%m-%d %H:%M}"}
                }
            )

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            stored = ContributionRule.objects.filter(pk=self.pk).values("behaviour", "points", "effective_from").first()
            changed = stored is not None and stored != {
                "behaviour": self.behaviour,
                "points": self.points,
                "effective_from": self.effective_from,
            }
            if changed and self.has_earned_points():
                raise RuleIsFrozen(f"rule {self.pk} has earned points; publish a new version instead")
        super().save(*args, **kwargs)


class ContributionReason(models.TextChoices):
    """Why a row is not a plain +points (T2, T5). Empty for an ordinary contribution."""

    CAPPED = "capped", _("冷却期内重复，不计分")
    JUNK_LEAD = "junk_lead", _("线索被关闭为无效/重复，冲销")
    EVIDENCE_REJECTED = "evidence_rejected", _("证据审核驳回，冲销")
    PAYMENT_REVERSED = "payment_reversed", _("回款冲销")


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    ACCEPTED = "accepted", _("已通过")
    REJECTED = "rejected", _("已驳回")


class ContributionQuerySet(models.QuerySet):
    def payable(self) -> "ContributionQuerySet":
        """What counts (T2): everything except rows held for review that nobody decided yet. A
        rejected row counts together with its negative counter-entry, so the pair nets to zero."""
        return self.filter(Q(held=False) | Q(review__status__in=[ReviewStatus.ACCEPTED, ReviewStatus.REJECTED]))

    def awaiting_review(self) -> "ContributionQuerySet":
        return self.filter(held=True, review__status=ReviewStatus.PENDING)

    def update(self, **kwargs):
        raise ContributionIsAppendOnly("contributions are never updated")

    def delete(self):
        raise ContributionIsAppendOnly("contributions are never deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise ContributionIsAppendOnly("contributions are never updated")

    def between(self, start, end) -> "ContributionQuerySet":
        return self.filter(occurred_at__gte=start, occurred_at__lt=end)


class Contribution(models.Model):
    """One scored action: rep, customer, behaviour, points, time — and the activity that proves it.
    Derived, never typed in (S2). One row per (activity, behaviour): the same proof never scores
    twice. Like the ledger it comes from, a row never changes, so it is its own history."""

    activity = models.ForeignKey(
        Activity, on_delete=models.PROTECT, related_name="contributions", verbose_name=_("依据动作")
    )
    behaviour = models.CharField(_("行为"), max_length=20, choices=Behaviour.choices)
    rule = models.ForeignKey(
        ContributionRule, on_delete=models.PROTECT, related_name="contributions", verbose_name=_("计分规则")
    )
    # Negative only on a counter-entry (`reverses` set), zero on a capped repeat.
    points = models.IntegerField(_("分值"))
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contributions", verbose_name=_("销售")
    )
    held = models.BooleanField(_("待审核"), default=False, help_text=_("依据的证据有真实性警示：审核通过前不计入。"))
    reason = models.CharField(_("说明类型"), max_length=20, choices=ContributionReason.choices, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal", verbose_name=_("冲销的贡献值")
    )
    capped_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("冷却期内已计分的动作")
    )
    # The contact (院长级拜访 cap) and the deal whose money a 回款推动 brought in (T4 attribution).
    contact_id_key = models.IntegerField(_("联系人"), null=True, blank=True)
    deal = models.ForeignKey(
        Deal, on_delete=models.PROTECT, null=True, blank=True, related_name="contributions", verbose_name=_("交易")
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="contributions", verbose_name=_("团队")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="contributions", verbose_name=_("客户")
    )
    occurred_at = models.DateTimeField(_("发生时间"))
    derived_at = models.DateTimeField(_("计分时间"), default=timezone.now, editable=False)

    objects = ContributionQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "behaviour"],
                condition=Q(reverses__isnull=True),
                name="uniq_contribution_per_activity_behaviour",
            )
        ]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="contribution_customer_time"),
            models.Index(fields=["rep", "occurred_at"], name="contribution_rep_time"),
            models.Index(fields=["occurred_at"], name="contribution_time"),
            models.Index(fields=["behaviour", "occurred_at"], name="contribution_behaviour_time"),
        ]
        verbose_name = verbose_name_plural = _("贡献值")

    def __str__(self) -> str:
        return f"{self.get_behaviour_display()} +{self.points} · {self.rep} · {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ContributionIsAppendOnly("contributions are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ContributionIsAppendOnly("contributions are never deleted")


# Read by tests/salesops/test_audit.py: derived and immutable like the ledger, so no history table.
Contribution._meta.append_only = True


class ContributionReview(models.Model):
    """A supervisor's decision on a held contribution (T2): accept pays it; reject appends a
    negative counter-entry (T5). The decision is history-tracked and never silently changed."""

    contribution = models.OneToOneField(
        Contribution, on_delete=models.PROTECT, related_name="review", verbose_name=_("贡献值")
    )
    status = models.CharField(_("状态"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING, db_index=True)
    flags = models.JSONField(_("真实性提示"), default=list, blank=True)
    reason = models.CharField(_("审核意见"), max_length=300, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("审核人")
    )
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True, db_index=True)  # K4: the sweep reads what changed
    created_at = models.DateTimeField(_("进入审核"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = verbose_name_plural = _("贡献值审核")

    def __str__(self) -> str:
        return f"{self.contribution} · {self.get_status_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            stored = ContributionReview.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored and stored != ReviewStatus.PENDING:
                raise ReviewIsFinal(f"review {self.pk} was decided; decisions are final")
        super().save(*args, **kwargs)


class ReviewIsFinal(Exception):
    """An accepted or rejected review is a decision people were paid on: it never changes."""


class ScoringSettings(models.Model):
    """One row (pk=1) of anti-gaming settings, edited by ops in admin (history-tracked)."""

    needs_diagnosis_cooldown_days = models.PositiveSmallIntegerField(
        _("需求诊断冷却期（天，同一客户）"), default=7, help_text=_("同一客户在此天数内只计一次需求诊断；0 为不限制。")
    )
    dean_visit_cooldown_days = models.PositiveSmallIntegerField(
        _("院长级拜访冷却期（天，同一联系人）"), default=30, help_text=_("同一位院长在此天数内只计一次；0 为不限制。")
    )
    solution_demo_cooldown_days = models.PositiveSmallIntegerField(
        _("方案演示冷却期（天，同一客户）"), default=0, help_text=_("0 为不限制。")
    )
    junk_lead_reversal_days = models.PositiveSmallIntegerField(
        _("无效线索冲销期（天）"), default=30, help_text=_("线索引入后在此天数内被关闭为无效/重复，冲销其线索引入贡献值。")
    )
    junk_lead_reasons = models.CharField(
        _("视为无效/重复的关闭原因关键词"),
        max_length=200,
        default="无效,重复,空号,虚假,测试,junk,duplicate,spam",
        help_text=_("逗号分隔；关闭原因包含任一关键词即视为无效/重复。"),
    )
    split_final_after_days = models.PositiveSmallIntegerField(
        _("分配终版截止（成交后天数）"),
        default=180,
        help_text=_("回款结清即出终版分配；未结清的，到成交后此天数也出终版（之后的回款不再计入）。"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = verbose_name_plural = _("计分防作弊设置")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "ScoringSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj

    def cooldown_days(self, behaviour: str) -> int:
        return {
            Behaviour.NEEDS_DIAGNOSIS: self.needs_diagnosis_cooldown_days,
            Behaviour.DEAN_VISIT: self.dean_visit_cooldown_days,
            Behaviour.SOLUTION_DEMO: self.solution_demo_cooldown_days,
        }.get(behaviour, 0)

    def junk_keywords(self) -> list[str]:
        return [word.strip().lower() for word in self.junk_lead_reasons.replace("，", ",").split(",") if word.strip()]


class PoolBasis(models.TextChoices):
    RATE = "rate", _("按成交金额比例")
    FIXED = "fixed", _("固定金额")


class BonusPolicy(models.Model):
    """How a won deal's bonus pool is sized and which points count. The version in force at the
    deal's close applies; a split keeps a copy of the numbers it used."""

    name = models.CharField(_("名称"), max_length=60)
    basis = models.CharField(_("奖金池计算方式"), max_length=8, choices=PoolBasis.choices, default=PoolBasis.RATE)
    rate_percent = models.DecimalField(
        _("提成比例（%）"),
        max_digits=7,
        decimal_places=4,
        default=Decimal("2.0000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    fixed_amount = models.DecimalField(
        _("固定金额"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    window_days = models.PositiveIntegerField(
        _("归因窗口（天）"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("成交前多少天内在该客户上的贡献值参与分配。"),
    )
    effective_from = models.DateTimeField(_("生效时间"), default=timezone.now)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-effective_from"]
        constraints = [models.UniqueConstraint(fields=["effective_from"], name="uniq_bonus_policy_effective_from")]
        verbose_name = verbose_name_plural = _("奖金政策")

    def __str__(self) -> str:
        if self.basis == PoolBasis.RATE:
            size = f"{self.rate_percent.normalize():f}%"
        else:
            size = f"¥{self.fixed_amount}"
        return f"{self.name}（{size}，{self.window_days} 天）"

    def clean(self) -> None:
        if self.basis == PoolBasis.RATE and (self.rate_percent is None or self.rate_percent <= 0):
            raise ValidationError({"rate_percent": _("按比例计算时，提成比例必须大于 0。")})
        if self.basis == PoolBasis.FIXED and (self.fixed_amount is None or self.fixed_amount <= 0):
            raise ValidationError({"fixed_amount": _("按固定金额计算时，金额必须大于 0。")})

    @classmethod
    def in_force_at(cls, moment) -> "BonusPolicy | None":
        return cls.objects.filter(effective_from__lte=moment).order_by("-effective_from").first()


class SplitStatus(models.TextChoices):
    DRAFT = "draft", _("待审批")
    APPROVED = "approved", _("已审批（冻结）")


class SplitStage(models.TextChoices):
    """T4: a split made at close is provisional (money still to come may add 回款推动); the final
    one is made when the deal's receivables are settled, or at the configured cut-off."""

    PROVISIONAL = "provisional", _("暂定（成交时，回款未结清）")
    FINAL_SETTLED = "final_settled", _("终版（回款已结清）")
    FINAL_CUTOFF = "final_cutoff", _("终版（到达截止日）")


class BonusSplitQuerySet(models.QuerySet):
    def current(self) -> "BonusSplitQuerySet":
        """The latest entry of each deal's chain (one that no correction replaced)."""
        return self.filter(correction__isnull=True)

    # T7: money records change through the services only (each writes its history row).
    def update(self, **kwargs):
        raise SplitIsFrozen("splits change through scoring.services only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise SplitIsFrozen("splits change through scoring.services only")

    def delete(self):
        raise SplitIsFrozen("splits are never deleted")


class BonusShareQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise SplitIsFrozen("shares are written once with their split")

    def bulk_update(self, objs, fields, batch_size=None):
        raise SplitIsFrozen("shares are written once with their split")

    def delete(self):
        raise SplitIsFrozen("shares are never deleted")


class BonusSplit(models.Model):
    """A won deal's bonus pool split among reps by their points on the customer in the window."""

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="bonus_splits", verbose_name=_("交易"))
    corrects = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="correction",
        verbose_name=_("更正的分配"),
    )
    policy = models.ForeignKey(BonusPolicy, on_delete=models.PROTECT, related_name="splits", verbose_name=_("奖金政策"))
    basis = models.CharField(_("奖金池计算方式"), max_length=8, choices=PoolBasis.choices)
    rate_percent = models.DecimalField(_("提成比例（%）"), max_digits=7, decimal_places=4, null=True, blank=True)
    deal_amount = models.DecimalField(_("成交金额"), max_digits=14, decimal_places=2)
    pool = models.DecimalField(_("奖金池"), max_digits=14, decimal_places=2)
    window_days = models.PositiveIntegerField(_("归因窗口（天）"))
    window_start = models.DateTimeField(_("窗口开始"))
    window_end = models.DateTimeField(_("窗口结束"))
    total_points = models.PositiveIntegerField(_("总分"), default=0)
    fell_back_to_owner = models.BooleanField(_("无贡献值，归负责人"), default=False)
    contributions = models.ManyToManyField(
        Contribution, blank=True, related_name="bonus_splits", verbose_name=_("计入的贡献值")
    )
    status = models.CharField(_("状态"), max_length=10, choices=SplitStatus.choices, default=SplitStatus.DRAFT)
    stage = models.CharField(_("阶段"), max_length=14, choices=SplitStage.choices, default=SplitStage.PROVISIONAL)
    reason = models.CharField(_("更正原因"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("生成人"),
    )
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审批人"),
    )
    history = HistoricalRecords()

    objects = BonusSplitQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One original split per deal; everything after it is a correction in its chain.
            models.UniqueConstraint(fields=["deal"], condition=Q(corrects__isnull=True), name="uniq_original_split_per_deal")
        ]
        verbose_name = verbose_name_plural = _("奖金分配")

    def __str__(self) -> str:
        return f"#{self.pk} {self.deal} · ¥{self.pool}"

    @property
    def is_frozen(self) -> bool:
        return self.status == SplitStatus.APPROVED

    @property
    def is_final(self) -> bool:
        return self.stage != SplitStage.PROVISIONAL

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            stored_status = BonusSplit.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored_status == SplitStatus.APPROVED:
                raise SplitIsFrozen(f"split {self.pk} is approved; correct it with a new split")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SplitIsFrozen("splits are never deleted; correct them with a new split")


class BonusShare(models.Model):
    """One rep's share: points, the exact proportional quota, the cents it was rounded to, and
    whether the largest-remainder step gave it one of the leftover cents."""

    split = models.ForeignKey(BonusSplit, on_delete=models.CASCADE, related_name="shares", verbose_name=_("分配"))
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bonus_shares", verbose_name=_("销售")
    )
    points = models.PositiveIntegerField(_("贡献值"))
    exact_quota = models.DecimalField(_("精确份额"), max_digits=24, decimal_places=10)
    amount = models.DecimalField(_("分得金额"), max_digits=14, decimal_places=2)
    remainder_cent = models.BooleanField(_("获得尾差 1 分"), default=False)
    rank = models.PositiveSmallIntegerField(_("尾差顺位"))
    first_contribution_at = models.DateTimeField(_("首次贡献时间"), null=True, blank=True)
    history = HistoricalRecords()

    objects = BonusShareQuerySet.as_manager()

    class Meta:
        ordering = ["split", "rank"]
        constraints = [models.UniqueConstraint(fields=["split", "rep"], name="uniq_share_per_split_rep")]
        verbose_name = verbose_name_plural = _("奖金份额")

    def __str__(self) -> str:
        return f"{self.rep} ¥{self.amount}"

    def save(self, *args, **kwargs):
        # Shares are the arithmetic of their split: written once with it, never edited (T7).
        if not self._state.adding:
            raise SplitIsFrozen("shares are written once with their split")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise SplitIsFrozen("shares are never deleted")


class SweepMark(models.Model):
    """How far a background sweep has read (K4): the last activity id it has fully processed and
    when that sweep started. Append-only — a sweep that found work adds a mark, an idle sweep
    writes nothing — so the row is its own history and the latest mark per name is the cursor."""

    name = models.CharField(_("任务"), max_length=40)
    position = models.BigIntegerField(_("已处理到（记录编号）"), default=0)
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["name", "-id"], name="sweep_mark_latest")]
        verbose_name = verbose_name_plural = _("后台任务进度")

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ContributionIsAppendOnly("sweep marks are never updated")
        super().save(*args, **kwargs)

    @classmethod
    def latest(cls, name: str) -> "SweepMark | None":
        return cls.objects.filter(name=name).order_by("-id").first()


SweepMark._meta.append_only = True
