"""Demo visits (A5): about three months of completed visits with REAL evidence files, today's
planned visits for the 工作台 and the QR pack.

- Every evidence row points at a real file whose SHA-256 it stores (`verify_evidence` passes).
  The last working days get one generated file per row (JPEGs with EXIF time and GPS near the
  hospital, signed PDFs naming the hospital); older rows share a small pool of generated files,
  so the media folder stays a few hundred files.
- Evidence-backed actions average about 4–5 per rep per working day; two reps stay below 3 for
  the last 7 working days (the dashboards' 关怀任务 has something to find).
- Customers are visited by several reps of a team, with 院长 contacts and 方案演示 templates, so
  scoring has multi-rep customers.
Deterministic (own RNG keyed by the demo seed), idempotent (nothing is added once demo visits
exist), and written in bulk (ledger rows included) so it runs in seconds.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from salesops.models import Activity, ActivityKind, Contact, ContactTitle, Role

from . import media
from .authenticity import place_flags, repeat_flag, time_flags
from .geo import hospital_wgs84
from .library import DEAN_CODE, MEDICAL_CODE, NEEDS_CHOICES, SOLUTION_DEMO_CODE, install_library
from .models import (
    Evidence,
    ModuleKind,
    Need,
    TaskStatus,
    TemplateModule,
    TranscriptStatus,
    VisitTask,
    VisitTemplate,
    VoiceTranscript,
)
from .samples import make_pdf, make_photo, make_wav

DAYS = 91
UNIQUE_FILE_DAYS = 2  # the last N working days (and today) get one file per evidence row
LOW_REP_DAYS = 7
DEMO_PREFIX = "demo-"
FREE_TEXT = ["", "", "年增约20%", "下季度招标", "主任关注", "需跟台", "价格敏感", "术后随访", "", "两台/周"]
DEMANDS = ["关节置换手术量上升", "科室准备开展单髁置换", "采购要求降低耗材单价", "新主任上任，重新评估供应商", "集采后需要替换型号", ""]
COMPETITORS = ["某进口品牌降价约5%", "国产竞品在做跟台服务", "竞品邀请主任参加学术会", "暂无明显变化", ""]
NEXT_ACTIONS = ["下周送试用样品", "约主任做方案演示", "准备报价单", "跟进设备科采购流程", "安排跟台工程师"]
TRANSCRIPTS = [
    "主任说下个月手术排期增加，希望我们保证供货。",
    "设备科提到集采价格，需要我们给出阶梯报价。",
    "试用反馈不错，护士长希望增加培训。",
    "院长关心整体成本，建议下次带方案来。",
    "科室对单髁假体感兴趣，约了下周演示。",
    "竞品在推跟台服务，我们要强调响应速度。",
]


def _workday(day: date) -> bool:
    try:
        import chinese_calendar

        return chinese_calendar.is_workday(day)
    except (ImportError, NotImplementedError):
        return day.weekday() < 5


def _aware(day: date, minutes: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(8, 30)) + timedelta(minutes=minutes))


@dataclass
class StoredFile:
    name: str
    sha256: str
    size: int
    content_type: str
    inspected: media.Inspected | None = None
    thumbnail: str = ""


def _store(name: str, data: bytes) -> str:
    """Write a demo file at a fixed name; an existing file with other content is replaced."""
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            if hashlib.sha256(handle.read()).digest() == hashlib.sha256(data).digest():
                return name
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def _photo_file(name: str, data: bytes) -> StoredFile:
    inspected = media.inspect_photo(data)
    stored = StoredFile(_store(f"evidence/demo/{name}.jpg", data), inspected.sha256, inspected.size, inspected.content_type, inspected)
    stored.thumbnail = _store(f"evidence/demo/thumbs/{name}.jpg", inspected.thumbnail)
    return stored


def _plain_file(name: str, data: bytes, kind: str) -> StoredFile:
    inspected = media.inspect(kind, data)
    return StoredFile(_store(f"evidence/demo/{name}{inspected.extension}", data), inspected.sha256, inspected.size, inspected.content_type, inspected)


@dataclass
class Batch:
    tasks: list = field(default_factory=list)
    evidence: list = field(default_factory=list)  # (task index, Evidence)
    needs: list = field(default_factory=list)  # (task index, [Need])
    transcripts: list = field(default_factory=list)  # (Evidence, text)


def seed(ctx) -> None:
    rng = random.Random(f"{ctx.rng.random()}-visits")
    templates = {template.code: template for template in install_library(VisitTemplate, TemplateModule)}
    if VisitTask.objects.filter(token__startswith=DEMO_PREFIX).exists():
        ctx.say("拜访：演示数据已存在，跳过。")
        return
    reps = [user for user in ctx.reps if user.rep.role == Role.REP]
    if not reps or not ctx.customers:
        return
    with transaction.atomic():
        _seed(ctx, rng, reps, templates)


def _seed(ctx, rng: random.Random, reps: list, templates: dict) -> None:
    modules = {code: {m.kind + ("" if m.required else "?"): m for m in t.modules.all()} for code, t in templates.items()}
    today = timezone.localdate()
    now = timezone.now()
    days = [today - timedelta(days=offset) for offset in range(DAYS, 0, -1) if _workday(today - timedelta(days=offset))]
    recent_days = set(days[-UNIQUE_FILE_DAYS:]) | {today}
    low_reps = {reps[6].pk, reps[min(32, len(reps) - 1)].pk} if len(reps) > 6 else {reps[-1].pk}
    low_days = set(days[-LOW_REP_DAYS:])

    customers_by_owner: dict[int, list] = defaultdict(list)
    customers_by_team: dict[int, list] = defaultdict(list)
    for customer in ctx.customers:
        if customer.owner_id:
            customers_by_owner[customer.owner_id].append(customer)
            team_id = getattr(getattr(customer.owner, "rep", None), "team_id", None)
            customers_by_team[team_id].append(customer)
    contacts: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for contact in Contact.objects.filter(customer__in=ctx.customers):
        contacts[contact.customer_id][contact.title].append(contact)

    # The pool shared by older rows: real files, made once.
    pool_photos = [_photo_file(f"pool/door-{i:02d}", make_photo(seed=f"pool-{i}", text=rng.choice(["骨科", "关节外科", "脊柱外科", "创伤骨科"]), size=(640, 480))) for i in range(24)]
    pool_signed = [_plain_file(f"pool/confirm-{i:02d}", make_pdf(hospital="（存档）", department="骨科", signer="主任", seed=f"pool-{i}"), "signed_document") for i in range(10)]
    pool_plans = [_plain_file(f"pool/plan-{i:02d}", make_pdf(title="产品方案演示", hospital="（存档）", seed=f"plan-{i}"), "document") for i in range(4)]
    pool_memos = [_plain_file(f"pool/memo-{i:02d}", make_wav(seconds=1.0 + i * 0.2, seed=i), "voice_memo") for i in range(6)]

    batch = Batch()
    for rep in reps:
        team_id = rep.rep.team_id
        own = customers_by_owner.get(rep.pk) or customers_by_team.get(team_id) or ctx.customers
        teammates = [c for c in customers_by_team.get(team_id, []) if c.owner_id != rep.pk] or own
        diligence = rng.uniform(0.92, 1.2)
        for day in days + [today]:
            if day == today:
                visits = 2
            elif rep.pk in low_reps and day in low_days:
                visits = 1
            else:
                visits = max(1, round(rng.gauss(1.9 * diligence, 0.5)))
            chosen: set[int] = set()
            for slot in range(min(visits, 4)):
                for _attempt in range(6):  # a different customer for each visit of the day
                    customer = rng.choice(own if rng.random() < 0.7 else teammates)
                    if customer.pk not in chosen:
                        break
                else:
                    continue
                chosen.add(customer.pk)
                deans = contacts[customer.pk][ContactTitle.DEAN] + contacts[customer.pk][ContactTitle.VICE_DEAN]
                roll = rng.random()
                if rep.pk in low_reps and day in low_days:
                    code = MEDICAL_CODE
                elif roll < 0.2:
                    code = SOLUTION_DEMO_CODE
                elif roll < 0.3 and deans:
                    code = DEAN_CODE
                else:
                    code = MEDICAL_CODE
                contact = None
                if code == DEAN_CODE or (deans and rng.random() < 0.15):
                    contact = rng.choice(deans)
                elif contacts[customer.pk][ContactTitle.DIRECTOR]:
                    contact = contacts[customer.pk][ContactTitle.DIRECTOR][0]
                start = _aware(day, slot * 150 + rng.randrange(0, 60))
                planned_today = day == today and (slot >= 1 or start > now - timedelta(hours=1))
                _plan_visit(batch, rng, rep, customer, contact, templates[code], modules[code], day, start, planned_today, recent=day in recent_days,
                            lowly=rep.pk in low_reps and day in low_days, pools=(pool_photos, pool_signed, pool_plans, pool_memos))
    _write(batch, rng)
    _summarise(ctx, reps, days, low_reps)


def _plan_visit(batch, rng, rep, customer, contact, template, modules, day, start, planned, recent, lowly, pools):
    pool_photos, pool_signed, pool_plans, pool_memos = pools
    index = len(batch.tasks)
    token = f"{DEMO_PREFIX}{hashlib.sha256(f'{rep.pk}-{customer.pk}-{day}-{start}'.encode()).hexdigest()[:40]}"
    task = VisitTask(rep=rep, customer=customer, contact=contact, template=template, due_date=day, token=token, created_by=rep, created_at=start - timedelta(days=1))
    task._history_user, task._history_date = rep, task.created_at
    batch.tasks.append(task)
    if planned:
        task.status = TaskStatus.PLANNED
        return
    hospital_point = hospital_wgs84(customer.hospital)
    distance = rng.randrange(30, 450)
    task.status, task.started_at = TaskStatus.COMPLETED, start
    task.completed_at = start + timedelta(minutes=rng.randrange(40, 75))
    if hospital_point and rng.random() > 0.05:
        task.checkin_latitude = Decimal(f"{hospital_point[0] + distance / 111_000 * 0.6:.6f}")
        task.checkin_longitude = Decimal(f"{hospital_point[1] + distance / 111_000 * 0.8:.6f}")
        task.checkin_distance_m = distance
    task.demand_changes, task.competitor_news, task.next_action = rng.choice(DEMANDS), rng.choice(COMPETITORS), rng.choice(NEXT_ACTIONS)
    at = start + timedelta(minutes=rng.randrange(3, 10))
    for key, module in modules.items():
        optional = key.endswith("?")
        if module.kind == ModuleKind.NEEDS:
            picks = rng.sample(NEEDS_CHOICES, module.needs_count)
            needs = [Need(module=module, version=1, position=i, choice=choice, free_text=rng.choice(FREE_TEXT), captured_by=rep, captured_at=at) for i, choice in enumerate(picks, 1)]
            for need in needs:
                need._history_user, need._history_date = rep, at
            batch.needs.append((index, needs))
            continue
        if optional and (lowly or rng.random() > (0.3 if module.kind == ModuleKind.SIGNED_DOCUMENT else 0.35)):
            continue
        at += timedelta(minutes=rng.randrange(2, 12))
        if module.kind == ModuleKind.PHOTO:
            if recent:
                where = (hospital_point[0] + rng.uniform(-0.0008, 0.0008), hospital_point[1] + rng.uniform(-0.0008, 0.0008)) if hospital_point else None
                taken = timezone.localtime(at - timedelta(minutes=rng.randrange(0, 3))).replace(tzinfo=None)
                oddity = rng.random()
                if oddity < 0.03 and where:  # taken in another town: flagged far from the hospital
                    where = (where[0] + 0.25, where[1] - 0.2)
                elif oddity < 0.06:  # an old photo from the phone's gallery: flagged as taken before
                    taken -= timedelta(days=rng.randrange(3, 40))
                stored = _photo_file(f"{day:%Y%m%d}/{index:05d}", make_photo(seed=f"{index}-{day}", text=customer.department.name if customer.department_id else "骨科", taken_at=taken, gps=where, size=(640, 480)))
            else:
                stored = rng.choice(pool_photos)
        elif module.kind == ModuleKind.SIGNED_DOCUMENT:
            if recent:
                stored = _plain_file(f"{day:%Y%m%d}/{index:05d}-signed", make_pdf(hospital=customer.hospital.name, department=customer.department.name if customer.department_id else "", signer=contact.name if contact else "", when=timezone.localtime(at), seed=index), module.kind)
            else:
                stored = rng.choice(pool_signed)
        elif module.kind == ModuleKind.DOCUMENT:
            stored = rng.choice(pool_plans)
        else:
            stored = rng.choice(pool_memos)
        batch.evidence.append((index, _evidence(rep, task, module, stored, at, recent)))
        if module.kind == ModuleKind.VOICE_MEMO:
            batch.transcripts.append((batch.evidence[-1][1], rng.choice(TRANSCRIPTS)))
    if recent and not lowly and rng.random() < 0.04:  # now and then a corrected photo: v2 supersedes v1
        photo_module = next(m for m in modules.values() if m.kind == ModuleKind.PHOTO)
        stored = rng.choice(pool_photos)
        correction = _evidence(rep, task, photo_module, stored, at + timedelta(minutes=3), recent=False)
        correction.version, correction.correction_note = 2, "重拍：第一张门牌反光"
        batch.evidence.append((index, correction))
    task.completed_at = max(task.completed_at, at + timedelta(minutes=5))


def _evidence(rep, task, module, stored: StoredFile, at, recent) -> Evidence:
    inspected = stored.inspected
    flags, distance = [], None
    if module.kind == ModuleKind.PHOTO and recent and inspected is not None:
        flags = time_flags(taken_at=inspected.taken_at, visit_time=task.started_at, uploaded_at=at)
        place, distance = place_flags(gps=inspected.gps, hospital=task.customer.hospital, exif=inspected.exif)
        flags += place
    evidence = Evidence(
        task=task,
        module=module,
        kind=module.kind,
        label=module.label,
        version=1,
        file=stored.name,
        original_name=stored.name.rsplit("/", 1)[-1],
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        thumbnail=stored.thumbnail,
        width=inspected.width if inspected else None,
        height=inspected.height if inspected else None,
        exif=inspected.exif if inspected else {},
        taken_at=inspected.taken_at if inspected else None,
        gps_latitude=Decimal(f"{inspected.gps[0]:.6f}") if inspected and inspected.gps else None,
        gps_longitude=Decimal(f"{inspected.gps[1]:.6f}") if inspected and inspected.gps else None,
        distance_m=distance,
        phash=inspected.phash if inspected else "",
        phash_wide=inspected.phash_wide if inspected else "",
        crop_hash=inspected.crop_hash if inspected else "",
        dhash=inspected.dhash if inspected else "",
        pages=inspected.pages if inspected else None,
        duration_seconds=Decimal(f"{inspected.duration_seconds:.2f}") if inspected and inspected.duration_seconds else None,
        flags=flags,
        flagged=any(f["level"] == "warning" for f in flags),
        uploaded_by=rep,
        uploaded_at=at,
    )
    evidence._history_user, evidence._history_date = rep, at
    return evidence


def _write(batch: Batch, rng: random.Random) -> None:
    tasks = bulk_create_with_history(batch.tasks, VisitTask, batch_size=500)
    by_index = dict(enumerate(tasks))
    firsts = [(i, e) for i, e in batch.evidence if e.version == 1]
    corrections = [(i, e) for i, e in batch.evidence if e.version > 1]
    for index, evidence in firsts + corrections:
        evidence.task = by_index[index]
    # R9: demo rows get their creation history like real uploads (who/when from each row).
    created = bulk_create_with_history([e for _, e in firsts], Evidence, batch_size=500)
    first_of = {(e.task_id, e.module_id): e for e in created}
    earliest_of_file: dict[str, Evidence] = {}
    for evidence in sorted(created, key=lambda e: e.uploaded_at):
        earliest_of_file.setdefault(evidence.sha256, evidence)
    for _index, evidence in corrections:
        evidence.supersedes = first_of[(evidence.task.pk, evidence.module_id)]
        # The re-shot photo came from the shared pool: exactly what the repeat check exists for.
        earlier = earliest_of_file.get(evidence.sha256)
        if earlier is not None and earlier.task_id != evidence.task.pk:
            evidence.flags = [repeat_flag(earlier, "与 %(rep)s %(when)s 在 %(customer)s 上传的照片完全相同", 0)]
            evidence.flagged = True
    created += bulk_create_with_history([e for _, e in corrections], Evidence, batch_size=500)
    needs = []
    for index, rows in batch.needs:
        for need in rows:
            need.task = by_index[index]
            needs.append(need)
    needs = bulk_create_with_history(needs, Need, batch_size=1000)
    transcripts = []
    for evidence, text in batch.transcripts:
        transcript = VoiceTranscript(evidence=evidence, text=text, status=TranscriptStatus.DONE, backend="manual", transcribed_at=evidence.uploaded_at + timedelta(minutes=20), edited_by=evidence.uploaded_by)
        transcript._history_user, transcript._history_date = evidence.uploaded_by, transcript.transcribed_at
        transcripts.append(transcript)
    bulk_create_with_history(transcripts, VoiceTranscript, batch_size=500)
    _ledger(tasks, created, needs)


def _ledger(tasks, evidence, needs) -> None:
    """The same rows the services append, in bulk (idempotent per (kind, subject) by constraint)."""
    evidence_type = ContentType.objects.get_for_model(Evidence)
    task_type = ContentType.objects.get_for_model(VisitTask)
    team_of = {}
    rows = []
    for item in evidence:
        task = item.task
        team_of.setdefault(task.rep_id, task.rep.rep.team_id)
        rows.append(Activity(
            rep_id=task.rep_id, team_id=team_of[task.rep_id], customer_id=task.customer_id, kind=item.module.activity_kind,
            occurred_at=item.uploaded_at, recorded_at=item.uploaded_at, subject_type=evidence_type, subject_id=str(item.pk),
            facts={"task_id": task.pk, "label": item.label, "version": item.version, "evidence_id": item.pk},
        ))
    needs_by_task = defaultdict(list)
    for need in needs:
        needs_by_task[need.task_id].append(need)
    for task in tasks:
        team_of.setdefault(task.rep_id, task.rep.rep.team_id)
        captured = needs_by_task.get(task.pk)
        if captured:
            rows.append(Activity(
                rep_id=task.rep_id, team_id=team_of[task.rep_id], customer_id=task.customer_id, kind=ActivityKind.NEEDS_CAPTURED,
                occurred_at=captured[0].captured_at, recorded_at=captured[0].captured_at, subject_type=task_type, subject_id=str(task.pk),
                facts={"needs": [str(n) for n in captured], "count": len(captured)},
            ))
        if task.status == TaskStatus.COMPLETED:
            rows.append(Activity(
                rep_id=task.rep_id, team_id=team_of[task.rep_id], customer_id=task.customer_id, kind=ActivityKind.VISIT_COMPLETED,
                occurred_at=task.completed_at, recorded_at=task.completed_at, subject_type=task_type, subject_id=str(task.pk),
                facts={
                    "task_id": task.pk,
                    "needs_count": len(captured or []),
                    "template_code": task.template.code,
                    "is_solution_demo": task.template.is_solution_demo,
                    "contact_title": task.contact.title if task.contact_id else "",
                    "onsite": task.onsite,
                },
            ))
    Activity.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def _summarise(ctx, reps, days, low_reps) -> None:
    evidence_count = Activity.objects.evidence_backed().filter(rep__in=reps, occurred_at__date__gte=days[0], occurred_at__date__lte=days[-1]).count()
    average = evidence_count / max(1, len(reps) * len(days))
    ctx.say(
        f"拜访：{VisitTask.objects.filter(token__startswith=DEMO_PREFIX).count()} 个任务，"
        f"{Evidence.objects.count()} 条证据（{len(set(Evidence.objects.values_list('file', flat=True)))} 个文件），"
        f"平均每人每工作日 {average:.1f} 条留痕动作；近 {LOW_REP_DAYS} 个工作日偏低：{', '.join(u.username for u in reps if u.pk in low_reps)}"
    )
