"""Visit workflows: validate, save, append to the ledger, enqueue on commit (V1–V7).

The action lock (动作锁, V4) lives here, in `visit_complete` and `visit_task_create`; every path —
page, admin action or change form, JSON API — goes through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from salesops.access import is_manager, sees_everything, team_ids_of
from salesops.ledger import activity_append
from salesops.models import ActivityKind, Contact, Customer, Role

from . import media, storage
from .authenticity import photo_flags
from .geo import distance_to_hospital_m, valid_point
from .models import (
    CaptureAction,
    CaptureReceipt,
    EvidencePolicy,
    Evidence,
    ModuleKind,
    ScoredBehaviour,
    Need,
    TaskStatus,
    TemplateModule,
    TranscriptStatus,
    VisitTask,
    VisitTemplate,
    VoiceTranscript,
    evidence_upload_path,
)


class ActionLocked(ValidationError):
    """V4: required evidence is missing. `missing` lists the modules."""

    def __init__(self, missing: list[TemplateModule], message: str | None = None) -> None:
        self.missing = list(missing)
        labels = "、".join(module.label for module in self.missing)
        super().__init__(message or _("动作锁：还缺 %(labels)s，不能完成。") % {"labels": labels}, code="action_locked")


class CaptureReplayed(Exception):
    """U3: this capture key was recorded before; `receipt` is what was stored then."""

    def __init__(self, receipt: CaptureReceipt) -> None:
        super().__init__(receipt.key)
        self.receipt = receipt


@dataclass(frozen=True)
class Capture:
    """U3: what the phone says about a capture it queued: its own key (idempotency), when and
    where it was captured. All optional except the key."""

    key: str
    captured_at: datetime | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


def capture_delay_minutes() -> int:
    return int(getattr(settings, "VISITS_CAPTURE_DELAY_FLAG_MINUTES", 60))


def _capture_time(capture: Capture | None, now: datetime) -> tuple[datetime | None, bool, list[dict]]:
    """The capture time to keep, whether it is far from the upload, and the flags that say so.
    A time in the future (a wrong phone clock) is not believed: the upload time is kept instead."""
    from .authenticity import flag

    if capture is None or capture.captured_at is None:
        return None, False, []
    captured_at = capture.captured_at
    if captured_at > now + timedelta(minutes=5):
        return now, True, [flag("capture_time_future", _("手机采集时间晚于上传时间，已按上传时间记录"))]
    gap = now - captured_at
    if gap > timedelta(minutes=capture_delay_minutes()):
        minutes = int(gap.total_seconds() // 60)
        local = timezone.localtime(captured_at, ZoneInfo("Asia/Shanghai"))
        return captured_at, True, [
            flag(
                "late_upload",
                _("离线采集：%(at)s 采集，%(minutes)d 分钟后才上传") % {"at": f"{local:%Y-%m-%d %H:%M}", "minutes": minutes},
                level="info",
                minutes=minutes,
            )
        ]
    return captured_at, False, []


def capture_replay(*, key: str, by, task: VisitTask) -> CaptureReceipt | None:
    """The receipt already stored under `key`, or None. A key belongs to one user and task: anyone
    else replaying it is refused (a guessed key reveals nothing)."""
    receipt = CaptureReceipt.objects.filter(key=key).first()
    if receipt is not None and (receipt.user_id != by.pk or receipt.task_id != task.pk):
        raise PermissionDenied(_("这个采集编号已被使用。"))
    return receipt


def _receipt_write(capture: Capture | None, *, by, task, module, action, now, evidence=None, captured_at=None, delayed=False) -> None:
    """Inside the capture's transaction: a second arrival of the same key rolls everything back."""
    if capture is None:
        return
    existing = capture_replay(key=capture.key, by=by, task=task)
    if existing is not None:
        raise CaptureReplayed(existing)
    receipt = CaptureReceipt(
        key=capture.key,
        user=by,
        task=task,
        module=module,
        action=action,
        evidence=evidence,
        captured_at=captured_at if captured_at is not None else capture.captured_at,
        received_at=now,
        latitude=capture.latitude,
        longitude=capture.longitude,
        delayed=delayed,
    )
    receipt._history_user = by
    try:
        with transaction.atomic():
            receipt.save()
    except IntegrityError:  # the same key committed meanwhile by a parallel request
        raise CaptureReplayed(CaptureReceipt.objects.get(key=capture.key))


def capture_begin(*, task: VisitTask, by, capture: Capture | None) -> None:
    """U2: the capture screen's first capture on a planned visit starts it, with the phone's
    position (one tap fewer). Plain form posts (no capture key) leave the status alone."""
    if capture is not None and task.status == TaskStatus.PLANNED and by.pk == task.rep_id:
        visit_start(task=task, by=by, latitude=capture.latitude, longitude=capture.longitude)


def missing_labels(task: VisitTask) -> list[str]:
    return [module.label for module in task.missing_modules()]


# --- Templates (V1) ---------------------------------------------------------------------------


def ensure_template_editable(template: VisitTemplate, by) -> None:
    if template.is_library:
        raise PermissionDenied(_("模板库原件不能修改，请先克隆一份副本。"))
    if not (sees_everything(by) or (template.team_id and template.team_id in team_ids_of(by))):
        raise PermissionDenied(_("只有本团队主管可以修改这个任务包。"))


@transaction.atomic
def template_clone(*, template: VisitTemplate, by, name: str = "") -> VisitTemplate:
    """A supervisor copies a library (or team) template; the copy belongs to their team and is
    editable. The original is untouched."""
    if not is_manager(by):
        raise PermissionDenied(_("只有主管可以克隆任务包。"))
    team = getattr(getattr(by, "rep", None), "team", None)
    base = slugify(f"{template.code}-{team.pk if team else by.pk}") or "template"
    code, counter = base, 1
    while VisitTemplate.objects.filter(code=code).exists():
        counter += 1
        code = f"{base}-{counter}"
    copy = VisitTemplate(
        code=code,
        name=name or _("%(name)s（副本）") % {"name": template.name},
        description=template.description,
        is_library=False,
        is_solution_demo=template.is_solution_demo,
        cloned_from=template,
        team=team,
        created_by=by,
    )
    copy._history_user = by
    copy.full_clean()
    copy.save()
    for module in template.modules.all():
        clone = TemplateModule(
            template=copy,
            kind=module.kind,
            label=module.label,
            required=module.required,
            position=module.position,
            needs_count=module.needs_count,
            choices=list(module.choices),
            free_text_max=module.free_text_max,
        )
        clone._history_user = by
        clone.full_clean()
        clone.save()
    return copy


# --- Evidence policy (T1) ---------------------------------------------------------------------


def template_policy_problems(*, is_solution_demo: bool, modules: list[tuple[str, bool, int]], policy: dict | None = None) -> list[str]:
    """T1: what a template that can earn a scored behaviour lacks. `modules` are (kind, required,
    needs_count). Used by the template page and admin before saving; tasks enforce it regardless
    (their snapshot makes the policy's evidence required)."""
    policy = EvidencePolicy.as_dict() if policy is None else policy
    earns = []
    if is_solution_demo:
        earns.append(ScoredBehaviour.SOLUTION_DEMO)
    if any(kind == ModuleKind.NEEDS and count >= 3 for kind, _required, count in modules):
        earns.append(ScoredBehaviour.NEEDS_DIAGNOSIS)
    required_kinds = {kind for kind, required, _count in modules if required}
    problems = []
    for behaviour in earns:
        lacking = [kind for kind in policy.get(behaviour, {}).get("kinds", []) if kind not in required_kinds]
        if lacking:
            problems.append(
                _("可计“%(behaviour)s”的任务包必须包含必填的：%(kinds)s（公司证据政策，由总监设定）。")
                % {
                    "behaviour": ScoredBehaviour(behaviour).label,
                    "kinds": "、".join(str(ModuleKind(kind).label) for kind in lacking),
                }
            )
    return problems


@transaction.atomic
def evidence_policy_set(*, behaviour: str, required_kinds: list[str], require_exif: bool, by) -> EvidencePolicy:
    """T1: only a director (or ops) sets which evidence proves a behaviour."""
    from salesops.access import role_of

    if role_of(by) not in (Role.DIRECTOR, Role.OPS):
        raise PermissionDenied(_("证据政策只能由总监或运营设定。"))
    policy = EvidencePolicy.objects.filter(behaviour=behaviour).first() or EvidencePolicy(behaviour=behaviour)
    policy.required_kinds = list(required_kinds)
    policy.require_exif = bool(require_exif)
    policy.updated_at = timezone.now()
    policy.full_clean()
    policy._history_user = by
    policy.save()
    return policy


# --- Tasks (V2, V4) ---------------------------------------------------------------------------


def _check_can_plan_for(by, rep) -> None:
    if by.pk == rep.pk or sees_everything(by):
        return
    if getattr(by, "rep", None) and by.rep.role == Role.SUPERVISOR and getattr(rep, "rep", None) and rep.rep.team_id in team_ids_of(by):
        return
    raise PermissionDenied(_("不能给这位销售安排拜访。"))


def ensure_no_open_task(*, rep, customer: Customer, lock: bool = False) -> None:
    """V4: no next task while the rep has an open one for this customer. Raises ActionLocked
    (naming the missing evidence) or, when the open task is complete but not closed, a
    ValidationError asking to press 完成 first. lock=True takes row locks (inside a transaction)."""
    open_tasks = VisitTask.objects.filter(rep=rep, customer=customer, status__in=(TaskStatus.PLANNED, TaskStatus.IN_PROGRESS))
    if lock:
        open_tasks = open_tasks.select_for_update()
    for previous in open_tasks.select_related("template").prefetch_related("template__modules", "evidence", "needs"):
        missing = previous.missing_modules()
        if missing:
            raise ActionLocked(
                missing,
                _("动作锁：%(date)s 的拜访还缺 %(labels)s，补齐并完成后才能安排下一次拜访。")
                % {"date": f"{previous.due_date:%Y-%m-%d}", "labels": "、".join(m.label for m in missing)},
            )
        raise ValidationError(_("%(date)s 的拜访证据已齐，请先点“完成”，再安排下一次拜访。") % {"date": f"{previous.due_date:%Y-%m-%d}"})


@transaction.atomic
def visit_task_create(
    *,
    rep,
    customer: Customer,
    template: VisitTemplate,
    due_date: date,
    contact: Contact | None = None,
    by,
) -> VisitTask:
    """Plan a visit. V4: refused while the rep has an open task for this customer — with the
    missing evidence named when that task is locked."""
    _check_can_plan_for(by, rep)
    if not Customer.objects.visible_to(by).filter(pk=customer.pk).exists() and not sees_everything(by):
        raise PermissionDenied(_("看不到这个客户。"))
    if contact is not None and contact.customer_id != customer.pk:
        raise ValidationError({"contact": _("拜访对象不属于这个客户。")})
    if not template.active:
        raise ValidationError({"template": _("这个任务包已停用。")})
    ensure_no_open_task(rep=rep, customer=customer, lock=True)
    task = VisitTask(rep=rep, customer=customer, contact=contact, template=template, due_date=due_date, created_by=by)
    task.rules = task.snapshot_rules()
    _check_rules_cover_policy(task)
    task._history_user = by
    task.full_clean(exclude=["token"])
    try:
        with transaction.atomic():
            task.save()
    except IntegrityError:
        raise ValidationError(_("这位销售对该客户已有未完成的拜访任务。"))
    return task


def _check_rules_cover_policy(task: VisitTask) -> None:
    """A task that can earn a behaviour must be able to collect the evidence the policy demands."""
    kinds = {rule["kind"] for rule in task.rules["modules"]}
    policy = task.rules["policy"]
    earns = []
    if task.rules["is_solution_demo"]:
        earns.append(ScoredBehaviour.SOLUTION_DEMO)
    if task.contact_id and task.contact.is_verified_dean:
        earns.append(ScoredBehaviour.DEAN_VISIT)
    for behaviour in earns:
        lacking = [kind for kind in policy.get(behaviour, {}).get("kinds", []) if kind not in kinds]
        if lacking:
            raise ValidationError(
                {
                    "template": _("“%(behaviour)s”须有%(kinds)s，这个任务包没有，请换一个任务包。")
                    % {
                        "behaviour": ScoredBehaviour(behaviour).label,
                        "kinds": "、".join(str(ModuleKind(kind).label) for kind in lacking),
                    }
                }
            )


def visit_start(*, task: VisitTask, by, latitude=None, longitude=None) -> VisitTask:
    """开始拜访 (V7): the phone's position (WGS-84) is stored with the distance to the hospital."""
    if by.pk != task.rep_id:
        raise PermissionDenied(_("只有负责的销售可以开始这次拜访。"))
    if not task.is_open:
        raise ValidationError(_("这次拜访已经结束。"))
    fields = []
    if task.status == TaskStatus.PLANNED:
        task.status = TaskStatus.IN_PROGRESS
        task.started_at = timezone.now()
        fields += ["status", "started_at"]
    if valid_point(latitude, longitude):
        task.checkin_latitude = Decimal(f"{float(latitude):.6f}")
        task.checkin_longitude = Decimal(f"{float(longitude):.6f}")
        task.checkin_distance_m = distance_to_hospital_m(task.customer.hospital, latitude, longitude)
        fields += ["checkin_latitude", "checkin_longitude", "checkin_distance_m"]
    if fields:
        task._history_user = by
        task.save(update_fields=fields)
    return task


def visit_notes_save(
    *, task: VisitTask, by, demand_changes: str, competitor_news: str, next_action: str, capture: Capture | None = None
) -> VisitTask:
    """The three fields the rep fills (需求变化, 竞品动态, 下一步动作). U3: with a capture key, a
    replay is refused with CaptureReplayed (nothing written twice)."""
    if by.pk != task.rep_id:
        raise PermissionDenied(_("只有负责的销售可以填写拜访记录。"))
    if not task.is_open:
        raise ValidationError(_("这次拜访已经结束，记录不能再修改。"))
    task.demand_changes, task.competitor_news, task.next_action = (
        demand_changes.strip(),
        competitor_news.strip(),
        next_action.strip(),
    )
    task.full_clean(exclude=["token"])
    now = timezone.now()
    captured_at, delayed, _flags = _capture_time(capture, now)
    with transaction.atomic():
        _receipt_write(capture, by=by, task=task, module=None, action=CaptureAction.NOTES, now=now, captured_at=captured_at, delayed=delayed)
        task._history_user = by
        task.save(update_fields=["demand_changes", "competitor_news", "next_action"])
    return task


@transaction.atomic
def visit_complete(*, task: VisitTask, by) -> VisitTask:
    """Mark 完成. V4: refused (ActionLocked) while any required module is missing. Appends
    `visit_completed` with the facts scoring reads (contracts.md)."""
    task = (
        VisitTask.objects.select_for_update(of=("self",))
        .select_related("template", "contact", "customer__hospital")
        .get(pk=task.pk)
    )
    if by.pk != task.rep_id and not (is_manager(by) and VisitTask.objects.visible_to(by).filter(pk=task.pk).exists()):
        raise PermissionDenied(_("只有负责的销售或其主管可以完成这次拜访。"))
    if task.status == TaskStatus.COMPLETED:
        return task
    if task.status == TaskStatus.CANCELLED:
        raise ValidationError(_("这次拜访已取消。"))
    missing = task.missing_modules()
    if missing:
        raise ActionLocked(missing)
    if not task.has_evidence_file():
        raise ActionLocked([], _("动作锁：没有任何证据文件（照片、文件或语音），不能完成。"))
    now = timezone.now()
    task.status = TaskStatus.COMPLETED
    task.completed_at = now
    if task.started_at is None:
        task.started_at = now
    task._history_user = by
    task.save(update_fields=["status", "completed_at", "started_at"])
    needs = task.current_needs()
    activity_append(
        rep=task.rep,
        kind=ActivityKind.VISIT_COMPLETED,
        customer=task.customer,
        subject=task,
        occurred_at=now,
        facts=completed_facts(task, len(needs)),
    )
    return task


def completed_facts(task: VisitTask, needs_count: int) -> dict:
    """What scoring reads (contracts.md). Only proven claims are stated (T1–T3): a behaviour whose
    policy evidence is missing is not claimed, the title is the *verified* one, and `flagged`
    says the evidence carries an authenticity warning (its points wait for review)."""
    evidence = list(task.current_evidence().values())
    kinds = {item.kind for item in evidence} | ({ModuleKind.NEEDS} if needs_count else set())
    policy = task.rules.get("policy") or EvidencePolicy.as_dict()

    def proven(behaviour: str) -> bool:
        return all(kind in kinds for kind in policy.get(behaviour, {}).get("kinds", []))

    contact = task.contact if task.contact_id else None
    title = contact.verified_title if contact else ""
    if title and contact.is_verified_dean and not proven(ScoredBehaviour.DEAN_VISIT):
        title = ""
    flags = sorted({flag.get("code", "") for item in evidence for flag in item.flags if flag.get("level") == "warning"})
    if any(rule.get("require_exif") for rule in policy.values()) and any(
        item.kind == ModuleKind.PHOTO and item.taken_at is None for item in evidence
    ):
        flags.append("no_exif_time")
    is_demo = bool(task.rules.get("is_solution_demo", task.template.is_solution_demo))
    return {
        "task_id": task.pk,
        "needs_count": needs_count if proven(ScoredBehaviour.NEEDS_DIAGNOSIS) else 0,
        "needs_captured": needs_count,
        "template_code": task.template.code,
        "is_solution_demo": is_demo and proven(ScoredBehaviour.SOLUTION_DEMO),
        "contact_title": title,
        "contact_title_claimed": contact.title if contact else "",
        "contact_id": contact.pk if contact else None,
        "onsite": task.onsite,
        "flagged": bool(flags),
        "flags": flags,
        "evidence_ids": sorted(item.pk for item in evidence),
    }


def visit_cancel(*, task: VisitTask, by, reason: str) -> VisitTask:
    if not is_manager(by):
        raise PermissionDenied(_("只有主管可以取消拜访任务。"))
    if not task.is_open:
        raise ValidationError(_("只有未完成的拜访可以取消。"))
    if not reason.strip():
        raise ValidationError({"cancelled_reason": _("请填写取消原因。")})
    task.status = TaskStatus.CANCELLED
    task.cancelled_reason = reason.strip()[:200]
    task._history_user = by
    task.save(update_fields=["status", "cancelled_reason"])
    return task


# --- Evidence (V3, V5, V6) --------------------------------------------------------------------


def _check_capture(task: VisitTask, module: TemplateModule, by) -> None:
    if by.pk != task.rep_id:
        raise PermissionDenied(_("只有负责的销售可以提交证据。"))
    if module.template_id != task.template_id:
        raise ValidationError(_("这个证据模块不属于该拜访任务。"))
    if task.status == TaskStatus.CANCELLED:
        raise ValidationError(_("这次拜访已取消，不能再提交证据。"))


def evidence_add(
    *,
    task: VisitTask,
    module: TemplateModule,
    upload: UploadedFile,
    by,
    correction_note: str = "",
    additional: bool = False,
    replaces: Evidence | None = None,
    capture: Capture | None = None,
) -> Evidence:
    """Validate the file by content, measure it, store it and append one activity. A second
    upload for the same module is a new version that supersedes (never replaces) the last — or,
    U2, `replaces` names the photo it corrects, and `additional` adds one more photo to the
    module's set. U3: `capture` keeps the phone's capture time and key (a replay raises
    CaptureReplayed and stores nothing)."""
    _check_capture(task, module, by)
    if not module.is_file:
        raise ValidationError(_("这个模块不接收文件。"))
    if additional and module.kind != ModuleKind.PHOTO:
        raise ValidationError(_("只有照片模块可以上传多张。"))
    if replaces is not None and (replaces.task_id != task.pk or replaces.module_id != module.pk):
        raise ValidationError({"replaces": _("要更正的证据不属于这个模块。")})
    if capture is not None and CaptureReceipt.objects.filter(key=capture.key).exists():
        raise CaptureReplayed(capture_replay(key=capture.key, by=by, task=task))  # before any work
    data = media.read_upload(upload, media.limit_kind(module.kind))
    inspected = media.inspect(module.kind, data)  # raises media.FileRejected
    uploaded_at = timezone.now()
    captured_at, delayed, capture_flags = _capture_time(capture, uploaded_at)
    flags = list(inspected.notes) + capture_flags
    distance = None
    watermarked = None
    if module.kind == ModuleKind.PHOTO:
        photo, distance = photo_flags(task=task, inspected=inspected, uploaded_at=uploaded_at)
        flags += photo
        watermarked = _watermark(task, inspected, capture, captured_at or uploaded_at)
    stored: list[str] = []
    options = {"additional": additional, "replaces": replaces, "capture": capture, "captured_at": captured_at, "delayed": delayed, "watermarked": watermarked}
    try:
        with transaction.atomic():
            return _evidence_save(task, module, by, inspected, upload.name or "", uploaded_at, flags, distance, correction_note, stored, **options)
    except Exception:
        for staged in stored:  # the row was not written: do not leave an orphan file behind
            staged.discard()
        raise


def _watermark(task: VisitTask, inspected, capture: Capture | None, when: datetime) -> bytes | None:
    """U2: time and place printed on a derived copy (EXIF time and GPS first, else the phone's)."""
    from .watermark import watermark_photo

    local = timezone.localtime(inspected.taken_at or when, ZoneInfo("Asia/Shanghai"))
    lines = [f"{local:%Y-%m-%d %H:%M:%S}", task.customer.hospital.name if task.customer.hospital_id else task.customer.name]
    if inspected.gps:
        lines.append(f"GPS {inspected.gps[0]:.5f}, {inspected.gps[1]:.5f}")
    elif capture is not None and capture.latitude is not None and capture.longitude is not None:
        lines.append(f"GPS {float(capture.latitude):.5f}, {float(capture.longitude):.5f}")
    return watermark_photo(inspected.data, lines)


def _evidence_save(
    task, module, by, inspected, original_name, uploaded_at, flags, distance, correction_note, stored,
    *, additional=False, replaces=None, capture=None, captured_at=None, delayed=False, watermarked=None,
) -> Evidence:
    VisitTask.objects.select_for_update().filter(pk=task.pk).first()  # serialise versions per task
    previous = Evidence.objects.filter(task=task, module=module).order_by("-version").first()
    if replaces is not None:
        if Evidence.objects.filter(supersedes=replaces).exists():
            raise ValidationError({"replaces": _("这张已被更正过，请更正最新的版本。")})
        supersedes = replaces
    else:
        supersedes = None if additional else previous
    evidence = Evidence(
        task=task,
        module=module,
        kind=module.kind,
        label=module.label,
        version=(previous.version + 1) if previous else 1,
        supersedes=supersedes,
        captured_at=captured_at,
        correction_note=correction_note.strip()[:200],
        original_name=(original_name or "upload")[:255],
        content_type=inspected.content_type,
        size=inspected.size,
        sha256=inspected.sha256,
        width=inspected.width,
        height=inspected.height,
        exif=inspected.exif,
        taken_at=inspected.taken_at,
        gps_latitude=Decimal(f"{inspected.gps[0]:.6f}") if inspected.gps else None,
        gps_longitude=Decimal(f"{inspected.gps[1]:.6f}") if inspected.gps else None,
        distance_m=distance,
        phash=inspected.phash,
        dhash=inspected.dhash,
        phash_wide=inspected.phash_wide,
        crop_hash=inspected.crop_hash,
        pages=inspected.pages,
        duration_seconds=Decimal(f"{inspected.duration_seconds:.2f}") if inspected.duration_seconds else None,
        flags=flags,
        flagged=any(item.get("level") == "warning" for item in flags),
        uploaded_by=by,
        uploaded_at=uploaded_at,
    )
    # R10: written aside, moved to these names only when the row commits (visits.storage).
    stored.append(storage.stage(evidence_upload_path(evidence, f"x{inspected.extension}"), inspected.data))
    evidence.file.name = stored[-1].name
    if inspected.thumbnail:
        stored.append(storage.stage(f"evidence/thumbs/{timezone.now():%Y/%m}/{inspected.sha256[:32]}.jpg", inspected.thumbnail))
        evidence.thumbnail.name = stored[-1].name
    if watermarked:
        stored.append(storage.stage(f"evidence/watermarked/{timezone.now():%Y/%m}/{inspected.sha256[:32]}-v{evidence.version}.jpg", watermarked))
        evidence.watermarked.name = stored[-1].name
    evidence._history_user = by
    evidence.save()
    _receipt_write(
        capture, by=by, task=task, module=module, action=CaptureAction.EVIDENCE, now=uploaded_at, evidence=evidence, captured_at=captured_at, delayed=delayed
    )
    activity_append(
        rep=task.rep,
        kind=module.activity_kind,
        customer=task.customer,
        subject=evidence,
        occurred_at=uploaded_at,
        facts={"task_id": task.pk, "label": module.label, "version": evidence.version, "evidence_id": evidence.pk},
    )
    if module.kind == ModuleKind.VOICE_MEMO:
        _transcript_open(evidence, by)
    return evidence


def needs_capture(
    *, task: VisitTask, module: TemplateModule, items: list[tuple[str, str]], by, capture: Capture | None = None
) -> list[Need]:
    """V3: exactly N needs, each a choice from the list plus ≤ free_text_max characters. A new
    capture is a new version; the earlier one stays. U3: the phone's capture time is kept."""
    _check_capture(task, module, by)
    if module.kind != ModuleKind.NEEDS:
        raise ValidationError(_("这个模块不是核心需求。"))
    cleaned: list[tuple[str, str]] = []
    errors: list[str] = []
    for index, (choice, free_text) in enumerate(items, start=1):
        choice, free_text = (choice or "").strip(), (free_text or "").strip()
        if not choice and not free_text:
            continue
        if choice not in module.choices:
            errors.append(_("第 %(n)d 条需求：请从列表中选择（收到“%(value)s”）。") % {"n": index, "value": choice[:20]})
        limit = min(module.free_text_max, 10)
        if len(free_text) > limit:
            errors.append(_("第 %(n)d 条需求：补充说明最多 %(limit)d 个字（现在 %(count)d 个）。") % {"n": index, "limit": limit, "count": len(free_text)})
        cleaned.append((choice, free_text))
    if len(cleaned) != module.needs_count:
        errors.append(_("核心需求必须正好 %(n)d 条（现在 %(count)d 条）。") % {"n": module.needs_count, "count": len(cleaned)})
    if len({choice for choice, _text in cleaned}) != len(cleaned):
        errors.append(_("核心需求不能重复选择同一项。"))
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    captured_at, delayed, _flags = _capture_time(capture, now)
    with transaction.atomic():
        VisitTask.objects.select_for_update().filter(pk=task.pk).first()
        _receipt_write(capture, by=by, task=task, module=module, action=CaptureAction.NEEDS, now=now, captured_at=captured_at, delayed=delayed)
        last = Need.objects.filter(task=task).order_by("-version").values_list("version", flat=True).first() or 0
        needs = []
        for position, (choice, free_text) in enumerate(cleaned, start=1):
            need = Need(
                task=task, module=module, version=last + 1, position=position, choice=choice, free_text=free_text,
                captured_by=by, captured_at=captured_at or now,
            )
            need._history_user = by
            need.save()
            needs.append(need)
        activity_append(
            rep=task.rep,
            kind=ActivityKind.NEEDS_CAPTURED,
            customer=task.customer,
            subject=task,
            occurred_at=now,
            facts={"needs": [str(need) for need in needs], "count": len(needs)},
        )
    return needs


# --- Voice memo transcripts -------------------------------------------------------------------


def _transcript_open(evidence: Evidence, by) -> VoiceTranscript:
    from salesops.integrations.asr import get_transcriber

    transcriber = get_transcriber()
    transcript = VoiceTranscript(
        evidence=evidence,
        status=TranscriptStatus.PENDING if transcriber.automatic else TranscriptStatus.MANUAL,
        backend=transcriber.name,
    )
    transcript._history_user = by
    transcript.save()
    if transcriber.automatic:
        transaction.on_commit(lambda: enqueue_transcription(evidence.pk))
    return transcript


def enqueue_transcription(evidence_id: int) -> None:
    from django_q.tasks import async_task

    async_task("visits.tasks.transcribe_voice_memo", evidence_id, task_name=f"asr-{evidence_id}-{timezone.now():%H%M%S%f}")


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def transcript_attempt(*, evidence_id: int) -> VoiceTranscript | None:
    """One try of the configured backend. Safe to run twice: a claimed or finished transcript is
    left alone. Failures are logged on the row and retried later; the audio is only read."""
    from salesops.integrations.asr import TranscriptionError, get_transcriber

    now = timezone.now()
    lease = timedelta(minutes=5)
    with transaction.atomic():
        transcript = VoiceTranscript.objects.select_for_update(of=("self",)).select_related("evidence").filter(evidence_id=evidence_id).first()
        if transcript is None or transcript.status not in (TranscriptStatus.PENDING, TranscriptStatus.RETRYING):
            return transcript
        if transcript.next_attempt_at and transcript.next_attempt_at > now:
            return transcript
        transcript.next_attempt_at = now + lease  # the claim: another worker skips it meanwhile
        transcript.save(update_fields=["next_attempt_at"])
    transcriber = get_transcriber()
    evidence = transcript.evidence
    if not transcriber.automatic:
        transcript.status, transcript.next_attempt_at = TranscriptStatus.MANUAL, None
        transcript.save(update_fields=["status", "next_attempt_at"])
        return transcript
    try:
        with evidence.file.open("rb") as handle:
            audio = handle.read()
        text = transcriber.transcribe(audio=audio, filename=f"memo{media.sniff_audio(audio)[1]}", content_type=evidence.content_type)
        error = "" if (text or "").strip() else _("转写结果为空")
    except TranscriptionError as exc:
        text, error = "", str(exc)[:500]
    except Exception as exc:  # noqa: BLE001 - R11: every failure is a recorded attempt, never a silent loop
        text, error = "", f"{exc.__class__.__name__}: {exc}"[:500]
    return _transcript_record_attempt(transcript.pk, text=(text or "").strip(), error=error, backend=transcriber.name)


def _transcript_record_attempt(transcript_id: int, *, text: str, error: str, backend: str) -> VoiceTranscript:
    """Write one attempt's outcome — conditionally: the row is re-read under the write lock and only a
    transcript still waiting for the machine takes the text. A manual transcript saved while the
    worker was busy stays as the person wrote it; the late attempt is only logged (R11)."""
    with transaction.atomic():
        transcript = VoiceTranscript.objects.select_for_update().get(pk=transcript_id)
        transcript.attempts += 1
        late = transcript.status not in (TranscriptStatus.PENDING, TranscriptStatus.RETRYING)
        detail = error or (_("成功（已有人工转写，未覆盖）") if late else _("成功"))
        transcript.attempt_log = [*transcript.attempt_log, {"at": timezone.now().isoformat(), "ok": not error, "detail": detail}]
        if late:
            transcript.save(update_fields=["attempts", "attempt_log"])
            return transcript
        transcript.backend = backend
        if not error:
            transcript.text, transcript.status = text, TranscriptStatus.DONE
            transcript.transcribed_at, transcript.next_attempt_at, transcript.last_error = timezone.now(), None, ""
        else:
            transcript.last_error = error
            if transcript.attempts >= int(getattr(settings, "VISITS_ASR_MAX_ATTEMPTS", 5)):
                transcript.status, transcript.next_attempt_at = TranscriptStatus.FAILED, None
            else:
                transcript.status, transcript.next_attempt_at = TranscriptStatus.RETRYING, timezone.now() + _backoff(transcript.attempts)
        transcript.save()
    return transcript


def transcript_save_manual(*, evidence: Evidence, text: str, by) -> VoiceTranscript:
    """The manual backend, and the fallback when automatic transcription keeps failing."""
    if not (by.pk == evidence.task.rep_id or is_manager(by)):
        raise PermissionDenied(_("只有负责的销售或主管可以填写转写文本。"))
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("请填写转写文本。")})
    if len(text) > 5000:
        raise ValidationError({"text": _("转写文本最多 5000 字。")})
    transcript, _created = VoiceTranscript.objects.get_or_create(evidence=evidence)
    transcript.text, transcript.status, transcript.edited_by = text, TranscriptStatus.DONE, by
    transcript.transcribed_at, transcript.next_attempt_at = timezone.now(), None
    if transcript.backend != "http" or not transcript.attempts:
        transcript.backend = "manual"
    transcript._history_user = by
    transcript.save()
    return transcript


def transcript_retry_now(*, evidence: Evidence, by) -> VoiceTranscript:
    """A person asks for another automatic try (e.g. after the ASR server came back)."""
    transcript = evidence.transcript
    if not (by.pk == evidence.task.rep_id or is_manager(by)):
        raise PermissionDenied
    if transcript.status in (TranscriptStatus.FAILED, TranscriptStatus.RETRYING, TranscriptStatus.MANUAL):
        transcript.status, transcript.next_attempt_at = TranscriptStatus.PENDING, None
        transcript._history_user = by
        transcript.save(update_fields=["status", "next_attempt_at"])
        transaction.on_commit(lambda: enqueue_transcription(evidence.pk))
    return transcript
