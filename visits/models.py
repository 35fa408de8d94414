"""Visits with evidence (V1–V8): templates (任务包) and their evidence modules, visit tasks with an
unguessable token (QR), evidence versions (never deleted, never overwritten), captured needs and
voice-memo transcripts.

Workflows (complete, add evidence, clone a template …) live in `visits.services`; the models only
know facts about themselves (what is missing, which version is current).
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from salesops.models import ActivityKind, Contact, Customer, PersonalData, Team


class ModuleKind(models.TextChoices):
    PHOTO = "photo", _("照片")
    SIGNED_DOCUMENT = "signed_document", _("签字文件（PDF）")
    DOCUMENT = "document", _("文件（PDF）")
    NEEDS = "needs", _("核心需求")
    VOICE_MEMO = "voice_memo", _("语音备忘")


# Which ledger kind proves each file module (contracts.md: one activity per evidence version).
ACTIVITY_KIND_OF_MODULE = {
    ModuleKind.PHOTO: ActivityKind.PHOTO,
    ModuleKind.SIGNED_DOCUMENT: ActivityKind.SIGNATURE,
    ModuleKind.DOCUMENT: ActivityKind.DOCUMENT,
    ModuleKind.VOICE_MEMO: ActivityKind.VOICE_MEMO,
}
FILE_MODULE_KINDS = frozenset(ACTIVITY_KIND_OF_MODULE)


class VisitTemplateQuerySet(models.QuerySet):
    def library(self) -> "VisitTemplateQuerySet":
        return self.filter(is_library=True)

    def usable_by(self, user) -> "VisitTemplateQuerySet":
        """The library plus the copies made by the user's team (templates are not secret, but a
        team's copies are its own working tools)."""
        from salesops.access import sees_everything, team_ids_of

        if sees_everything(user):
            return self.filter(active=True)
        rep = getattr(user, "rep", None)
        team_ids = set(team_ids_of(user))
        if rep and rep.team_id:
            team_ids.add(rep.team_id)
        return self.filter(active=True).filter(Q(is_library=True) | Q(team__in=team_ids))


class VisitTemplate(models.Model):
    """A 任务包: which evidence a visit must bring back. Library originals are read-only; a
    supervisor clones one and edits the copy."""

    code = models.SlugField(_("编码"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=80)
    description = models.TextField(_("说明"), blank=True)
    is_library = models.BooleanField(_("模板库原件"), default=False, help_text=_("随系统发布，只读；请克隆后修改副本。"))
    is_solution_demo = models.BooleanField(
        _("方案演示"), default=False, help_text=_("完成此类拜访计入贡献值“方案演示”。")
    )
    cloned_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="clones", verbose_name=_("克隆自")
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="visit_templates", verbose_name=_("团队")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    active = models.BooleanField(_("启用"), default=True)
    history = HistoricalRecords()

    objects = VisitTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["-is_library", "name"]
        verbose_name = verbose_name_plural = _("任务包")

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return not self.is_library


class TemplateModule(models.Model):
    """One evidence module of a template: a labelled photo, a (signed) PDF, the needs list or a
    voice memo, required or optional."""

    template = models.ForeignKey(VisitTemplate, on_delete=models.CASCADE, related_name="modules", verbose_name=_("任务包"))
    kind = models.CharField(_("类型"), max_length=20, choices=ModuleKind.choices)
    label = models.CharField(_("名称"), max_length=60, help_text=_("例如：科室门牌照片、《产品试用确认书》"))
    required = models.BooleanField(_("必填"), default=True)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    # Needs module only: how many needs, the choices, and the free-text limit.
    needs_count = models.PositiveSmallIntegerField(_("需求条数"), default=3)
    choices = models.JSONField(_("需求选项"), default=list, blank=True)
    free_text_max = models.PositiveSmallIntegerField(_("补充说明字数上限"), default=10)
    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "position", "pk"]
        verbose_name = verbose_name_plural = _("证据模块")

    def __str__(self) -> str:
        return f"{self.label}（{self.get_kind_display()}{'，必填' if self.required else ''}）"

    @property
    def is_file(self) -> bool:
        return self.kind in FILE_MODULE_KINDS

    @property
    def activity_kind(self) -> str | None:
        return ACTIVITY_KIND_OF_MODULE.get(self.kind)

    def clean(self) -> None:
        if self.kind == ModuleKind.NEEDS:
            if not self.choices or not all(isinstance(c, str) and c.strip() for c in self.choices):
                raise ValidationError({"choices": _("核心需求模块需要至少一个选项。")})
            if not 1 <= self.needs_count <= 10:
                raise ValidationError({"needs_count": _("需求条数应在 1 到 10 之间。")})


class ScoredBehaviour(models.TextChoices):
    """The scored behaviours a visit can earn (scoring owns the points; visits owns the proof)."""

    NEEDS_DIAGNOSIS = "needs_diagnosis", _("需求诊断")
    SOLUTION_DEMO = "solution_demo", _("方案演示")
    DEAN_VISIT = "dean_visit", _("院长级拜访")


class EvidencePolicy(models.Model):
    """T1: company policy — which evidence must be there for a visit to earn a behaviour. Set by
    a director (or ops in admin), never by a supervisor's template copy; every task snapshots it."""

    behaviour = models.CharField(_("行为"), max_length=20, choices=ScoredBehaviour.choices, unique=True)
    required_kinds = models.JSONField(_("必需证据类型"), default=list, help_text=_("例如 [\"photo\", \"document\"]"))
    require_exif = models.BooleanField(
        _("照片须带拍摄信息"), default=True, help_text=_("照片缺少 EXIF 拍摄时间时，贡献值进入主管审核。")
    )
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["behaviour"]
        verbose_name = verbose_name_plural = _("证据政策")

    def __str__(self) -> str:
        kinds = "、".join(str(ModuleKind(kind).label) for kind in self.required_kinds if kind in ModuleKind.values)
        return f"{self.get_behaviour_display()}：{kinds or '—'}"

    def clean(self) -> None:
        kinds = self.required_kinds
        if not isinstance(kinds, list) or not kinds or any(kind not in ModuleKind.values for kind in kinds):
            raise ValidationError(
                {"required_kinds": _("请从这些类型中选择至少一个：%(kinds)s") % {"kinds": ", ".join(ModuleKind.values)}}
            )

    @classmethod
    def as_dict(cls) -> dict[str, dict]:
        return {
            row.behaviour: {"kinds": list(row.required_kinds), "require_exif": row.require_exif}
            for row in cls.objects.all()
        }


class TaskIsFrozen(Exception):
    """A completed or cancelled visit, and the rules a task was created with, never change (T1, T7)."""


class TaskStatus(models.TextChoices):
    PLANNED = "planned", _("待拜访")
    IN_PROGRESS = "in_progress", _("拜访中")
    COMPLETED = "completed", _("已完成")
    CANCELLED = "cancelled", _("已取消")


OPEN_STATUSES = (TaskStatus.PLANNED, TaskStatus.IN_PROGRESS)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class VisitTaskQuerySet(models.QuerySet):
    # T7: every change goes through visits.services (lock, ledger, history): no bulk writes.
    def update(self, **kwargs):
        raise TaskIsFrozen("visit tasks change through visits.services only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise TaskIsFrozen("visit tasks change through visits.services only")

    def delete(self):
        raise TaskIsFrozen("visit tasks are never deleted; cancel them")

    def open(self) -> "VisitTaskQuerySet":
        return self.filter(status__in=OPEN_STATUSES)

    def visible_to(self, user) -> "VisitTaskQuerySet":
        """A3: a rep sees their own tasks; a supervisor the team's; director/ops everything."""
        from salesops.access import role_of, sees_everything, team_ids_of
        from salesops.models import Role

        if not user.is_authenticated:
            return self.none()
        if sees_everything(user):
            return self.all()
        if role_of(user) == Role.SUPERVISOR:
            return self.filter(Q(rep__rep__team__in=team_ids_of(user)) | Q(rep=user))
        return self.filter(rep=user)


class VisitTask(models.Model):
    """One planned visit of a rep to a customer with a template. The token is what the QR code
    carries: unguessable, and still only opens for users who may see the task."""

    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visit_tasks", verbose_name=_("销售"))
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="visit_tasks", verbose_name=_("客户"))
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="visit_tasks", verbose_name=_("拜访对象")
    )
    template = models.ForeignKey(VisitTemplate, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("任务包"))
    due_date = models.DateField(_("计划日期"))
    token = models.CharField(_("二维码令牌"), max_length=64, unique=True, default=new_token, editable=False)
    status = models.CharField(_("状态"), max_length=12, choices=TaskStatus.choices, default=TaskStatus.PLANNED, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    # 开始拜访: where the phone was (WGS-84) and how far from the hospital.
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    checkin_latitude = models.DecimalField(_("签到纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    checkin_longitude = models.DecimalField(_("签到经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    checkin_distance_m = models.PositiveIntegerField(_("签到距医院（米）"), null=True, blank=True)
    # The three fields the rep fills (V7).
    demand_changes = models.CharField(_("需求变化"), max_length=200, blank=True)
    competitor_news = models.CharField(_("竞品动态"), max_length=200, blank=True)
    next_action = models.CharField(_("下一步动作"), max_length=200, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    cancelled_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    # T1: the evidence rules as they were when the task was created (template modules, with the
    # company policy applied); a later template edit never changes them.
    rules = models.JSONField(_("证据规则快照"), default=dict, blank=True, editable=False)
    history = HistoricalRecords()

    objects = VisitTaskQuerySet.as_manager()

    # A visit with a named contact is that person's data too (exported; the visit itself is kept).
    personal_data = PersonalData(via="contact")

    class Meta:
        ordering = ["-due_date", "-pk"]
        indexes = [models.Index(fields=["rep", "due_date"], name="visittask_rep_day")]
        constraints = [
            # V4 safety net under concurrency: one open task per rep and customer; the service
            # refuses first with a readable message (the action lock).
            models.UniqueConstraint(
                fields=["rep", "customer"],
                condition=Q(status__in=["planned", "in_progress"]),
                name="uniq_open_visit_per_rep_customer",
            )
        ]
        verbose_name = verbose_name_plural = _("拜访任务")

    def __str__(self) -> str:
        return f"{self.customer} · {self.due_date:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def onsite(self) -> bool:
        limit = getattr(settings, "VISITS_ONSITE_RADIUS_M", 1000)
        return self.checkin_distance_m is not None and self.checkin_distance_m <= limit

    def current_evidence(self) -> dict[int, "Evidence"]:
        """module id → its latest version."""
        latest: dict[int, Evidence] = {}
        for item in self.evidence.all():
            if item.module_id not in latest or item.version > latest[item.module_id].version:
                latest[item.module_id] = item
        return latest

    def current_needs(self) -> list["Need"]:
        needs = list(self.needs.all())
        if not needs:
            return []
        top = max(need.version for need in needs)
        return sorted((need for need in needs if need.version == top), key=lambda need: need.position)

    def snapshot_rules(self, policy: dict | None = None) -> dict:
        """T1: the template's modules as they are now, with every module of a kind the company
        policy demands for a behaviour this task can earn made required."""
        policy = EvidencePolicy.as_dict() if policy is None else policy
        modules = list(self.template.modules.all())
        earns = set()
        if self.template.is_solution_demo:
            earns.add(ScoredBehaviour.SOLUTION_DEMO)
        if any(m.kind == ModuleKind.NEEDS and m.needs_count >= 3 for m in modules):
            earns.add(ScoredBehaviour.NEEDS_DIAGNOSIS)
        if self.contact_id and self.contact.is_verified_dean:
            earns.add(ScoredBehaviour.DEAN_VISIT)
        forced = {kind for behaviour in earns for kind in policy.get(behaviour, {}).get("kinds", [])}
        return {
            "is_solution_demo": self.template.is_solution_demo,
            "policy": policy,
            "modules": [
                {
                    "id": m.pk,
                    "kind": m.kind,
                    "label": m.label,
                    "required": m.required or m.kind in forced,
                    "needs_count": m.needs_count,
                }
                for m in modules
            ],
        }

    def rule_modules(self) -> list[dict]:
        """The snapshot's modules (a task made before snapshots existed reads its template)."""
        if self.rules.get("modules") is not None:
            return self.rules["modules"]
        return self.snapshot_rules(policy={})["modules"]

    def missing_modules(self) -> list[TemplateModule]:
        """V4: the required modules without evidence, by the task's own snapshot (T1). Reads
        prefetched relations when present."""
        present = self.current_evidence()
        needs = self.current_needs()
        required = {rule["id"]: rule for rule in self.rule_modules() if rule["required"]}
        missing = []
        for module in self.template.modules.all():
            rule = required.get(module.pk)
            if rule is None:
                continue
            if module.kind == ModuleKind.NEEDS:
                if len(needs) != rule["needs_count"]:
                    missing.append(module)
            elif module.pk not in present:
                missing.append(module)
        return missing

    def has_evidence_file(self) -> bool:
        return bool(self.current_evidence())

    @property
    def is_locked(self) -> bool:
        return bool(self.missing_modules())

    def save(self, *args, **kwargs):
        # Guards every path (service, admin, shell): the fields that decide the lock never change
        # after creation, a closed task never changes, and nothing completes without evidence.
        if not self._state.adding and self.pk is not None:
            stored = (
                VisitTask.objects.filter(pk=self.pk)
                .values("status", "rep_id", "customer_id", "template_id", "rules")
                .first()
            )
            if stored is not None:
                if stored["status"] not in OPEN_STATUSES:
                    raise TaskIsFrozen(f"task {self.pk} is {stored['status']}; it never changes")
                for field in ("rep_id", "customer_id", "template_id", "rules"):
                    if getattr(self, field) != stored[field]:
                        raise TaskIsFrozen(f"task {self.pk}: {field} is fixed when the task is created")
        if self.status == TaskStatus.COMPLETED:
            if not self.has_evidence_file():
                raise TaskIsFrozen(f"task {self.pk} has no evidence file; it cannot complete")
            if self.missing_modules():
                raise TaskIsFrozen(f"task {self.pk} misses required evidence; it cannot complete")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TaskIsFrozen("visit tasks are never deleted; cancel them")


def evidence_upload_path(instance: "Evidence", filename: str) -> str:
    # Never the uploader's name: content decides the extension, a UUID the path.
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"evidence/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class EvidenceIsImmutable(Exception):
    """Raised by any attempt to change or delete an evidence version (V5)."""


class WriteOnceQuerySet(models.QuerySet):
    """Evidence and needs are written once: no bulk path can change or remove them."""

    def delete(self):
        raise EvidenceIsImmutable("evidence is never deleted")

    def update(self, **kwargs):
        raise EvidenceIsImmutable("evidence is never updated")

    def bulk_update(self, objs, fields, batch_size=None):
        raise EvidenceIsImmutable("evidence is never updated")


class EvidenceQuerySet(WriteOnceQuerySet):

    def visible_to(self, user) -> "EvidenceQuerySet":
        return self.filter(task__in=VisitTask.objects.visible_to(user))


class Evidence(models.Model):
    """One version of one evidence module of a task. Written once; a correction is a new row with
    version + 1 that points at the one it corrects. The file's SHA-256 is kept (verify_evidence)."""

    task = models.ForeignKey(VisitTask, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("拜访任务"))
    module = models.ForeignKey(TemplateModule, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("证据模块"))
    kind = models.CharField(_("类型"), max_length=20, choices=ModuleKind.choices)
    label = models.CharField(_("名称"), max_length=60)
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by", verbose_name=_("更正自")
    )
    correction_note = models.CharField(_("更正说明"), max_length=200, blank=True)
    file = models.FileField(_("文件"), upload_to=evidence_upload_path, max_length=200)
    original_name = models.CharField(_("原文件名"), max_length=255)
    content_type = models.CharField(_("文件类型"), max_length=60)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    thumbnail = models.FileField(_("缩略图"), upload_to="evidence/thumbs/", max_length=200, blank=True)
    # Photos: EXIF facts, perceptual hashes and authenticity flags (V6).
    width = models.PositiveIntegerField(_("宽"), null=True, blank=True)
    height = models.PositiveIntegerField(_("高"), null=True, blank=True)
    exif = models.JSONField(_("EXIF"), default=dict, blank=True)
    taken_at = models.DateTimeField(_("拍摄时间（EXIF）"), null=True, blank=True)
    gps_latitude = models.DecimalField(_("GPS 纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    gps_longitude = models.DecimalField(_("GPS 经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    distance_m = models.PositiveIntegerField(_("距医院（米）"), null=True, blank=True)
    phash = models.CharField(_("感知哈希"), max_length=16, blank=True, db_index=True)
    dhash = models.CharField(_("差异哈希"), max_length=16, blank=True)
    phash_wide = models.CharField(_("感知哈希（256 位）"), max_length=64, blank=True)
    crop_hash = models.TextField(_("抗裁剪哈希"), blank=True)
    duration_seconds = models.DecimalField(_("时长（秒）"), max_digits=8, decimal_places=2, null=True, blank=True)
    pages = models.PositiveIntegerField(_("页数"), null=True, blank=True)
    flags = models.JSONField(_("真实性提示"), default=list, blank=True)
    flagged = models.BooleanField(_("有警示"), default=False, help_text=_("真实性提示中至少一条警示（不阻止提交）"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("上传人"))
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)
    # U3: when the phone captured it (an offline capture is uploaded later; the gap is flagged).
    captured_at = models.DateTimeField(_("采集时间"), null=True, blank=True)
    # U2: a derived copy with the time/place printed on it; `file` stays the original, byte for byte.
    watermarked = models.FileField(_("水印副本"), upload_to="evidence/watermarked/", max_length=200, blank=True)
    history = HistoricalRecords()

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["task", "module__position", "version"]
        constraints = [models.UniqueConstraint(fields=["task", "module", "version"], name="uniq_evidence_version")]
        indexes = [models.Index(fields=["kind", "uploaded_at"], name="evidence_kind_time")]
        verbose_name = verbose_name_plural = _("拜访证据")

    def __str__(self) -> str:
        return f"{self.label} v{self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise EvidenceIsImmutable("evidence is never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise EvidenceIsImmutable("evidence is never deleted")

    @property
    def is_image(self) -> bool:
        return self.kind == ModuleKind.PHOTO

    @property
    def is_audio(self) -> bool:
        return self.kind == ModuleKind.VOICE_MEMO


class TranscriptStatus(models.TextChoices):
    MANUAL = "manual", _("待手工填写")
    PENDING = "pending", _("排队中")
    RETRYING = "retrying", _("失败，等待重试")
    DONE = "done", _("已转写")
    FAILED = "failed", _("多次失败，请手工填写")


class VoiceTranscript(models.Model):
    """The text of a voice memo (语音备忘转文字). The audio is the evidence and never changes; the
    transcript is work in progress with every attempt kept."""

    evidence = models.OneToOneField(Evidence, on_delete=models.PROTECT, related_name="transcript", verbose_name=_("语音备忘"))
    text = models.TextField(_("转写文本"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=TranscriptStatus.choices, default=TranscriptStatus.MANUAL)
    backend = models.CharField(_("转写方式"), max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    attempt_log = models.JSONField(_("尝试记录"), default=list, blank=True)  # [{"at", "ok", "detail"}]
    last_error = models.TextField(_("最近错误"), blank=True)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True, db_index=True)
    transcribed_at = models.DateTimeField(_("转写时间"), null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("填写人")
    )
    history = HistoricalRecords(excluded_fields=["attempt_log"])

    class Meta:
        verbose_name = verbose_name_plural = _("语音转写")

    def __str__(self) -> str:
        return f"{self.evidence} · {self.get_status_display()}"


class Need(models.Model):
    """One captured core need: a choice from the module's list plus ≤ N characters of free text.
    Re-capturing writes a new version; old versions stay."""

    task = models.ForeignKey(VisitTask, on_delete=models.PROTECT, related_name="needs", verbose_name=_("拜访任务"))
    module = models.ForeignKey(TemplateModule, on_delete=models.PROTECT, related_name="needs", verbose_name=_("证据模块"))
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    position = models.PositiveSmallIntegerField(_("序号"))
    choice = models.CharField(_("需求"), max_length=40)
    free_text = models.CharField(_("补充"), max_length=10, blank=True)
    captured_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("记录人"))
    captured_at = models.DateTimeField(_("记录时间"), default=timezone.now)
    history = HistoricalRecords()

    objects = WriteOnceQuerySet.as_manager()

    personal_data = PersonalData(via="task")

    class Meta:
        ordering = ["task", "version", "position"]
        constraints = [models.UniqueConstraint(fields=["task", "version", "position"], name="uniq_need_position")]
        verbose_name = verbose_name_plural = _("核心需求")

    def __str__(self) -> str:
        return f"{self.choice}{'：' + self.free_text if self.free_text else ''}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise EvidenceIsImmutable("needs are never updated; capture a new version")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise EvidenceIsImmutable("needs are never deleted")


class CaptureAction(models.TextChoices):
    EVIDENCE = "evidence", _("证据文件")
    NEEDS = "needs", _("核心需求")
    NOTES = "notes", _("拜访记录")


class CaptureReceipt(models.Model):
    """U3: one capture the phone sent, recorded under the key the phone generated for it. The
    phone retries until it hears back (offline queue); a replayed key is answered with the result
    already recorded, so a capture is stored once however often it arrives. Written once."""

    key = models.CharField(_("幂等键"), max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("提交人"))
    task = models.ForeignKey(VisitTask, on_delete=models.PROTECT, related_name="capture_receipts", verbose_name=_("拜访任务"))
    module = models.ForeignKey(
        TemplateModule, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("证据模块")
    )
    action = models.CharField(_("类型"), max_length=10, choices=CaptureAction.choices)
    evidence = models.OneToOneField(
        Evidence, on_delete=models.PROTECT, null=True, blank=True, related_name="receipt", verbose_name=_("证据")
    )
    captured_at = models.DateTimeField(_("采集时间"), null=True, blank=True)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    latitude = models.DecimalField(_("采集纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("采集经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    delayed = models.BooleanField(_("延迟上传"), default=False, help_text=_("采集时间与上传时间相差超过设定阈值"))
    history = HistoricalRecords()

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name = verbose_name_plural = _("采集回执")

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.key}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise EvidenceIsImmutable("capture receipts are written once")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise EvidenceIsImmutable("capture receipts are never deleted")
