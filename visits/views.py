"""Visit pages: workbench (V7), task by QR (V2), evidence capture (V3), action lock (V4),
supervisor drill-down (V8), evidence files through access checks, template library (V1)."""

from __future__ import annotations

import mimetypes
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from salesops.access import is_manager, users_visible_to
from salesops import privacy
from salesops.models import AccessAction, Activity, Customer
from salesops.params import parse_int_param
from salesops.people import person_name
from salesops.tables import date_range, page_of, sort, wants_export, xlsx_response

from . import qr, services, storage
from .access import get_evidence_for_user, get_task_by_token_for_user, get_task_for_user, get_template_for_user
from .forms import EvidenceUploadForm, ModuleFormSet, NeedsForm, NotesForm, StartVisitForm, TaskCreateForm, TemplateForm
from .geo import hospital_wgs84, haversine_m, valid_point
from .media import FileRejected
from .models import Evidence, ModuleKind, TaskStatus, TemplateModule, VisitTask, VisitTemplate, VoiceTranscript
from .library import MEDICAL_CODE


def _errors(exc: ValidationError) -> list[str]:
    return [str(message) for message in exc.messages]


CAPTURE_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _capture_from(request: HttpRequest) -> services.Capture | None:
    """U3: the phone's key, capture time and position for a queued capture (all optional). Bad
    values are answered with the field's name, never guessed."""
    key = request.POST.get("capture_key", "").strip()
    raw_time = request.POST.get("captured_at", "").strip()
    latitude, longitude = request.POST.get("latitude", "").strip(), request.POST.get("longitude", "").strip()
    if not key:
        return None
    if not CAPTURE_KEY.match(key):
        raise ValidationError(_("采集编号（capture_key）格式不对：8–64 位字母、数字、- 或 _。"))
    captured_at = None
    if raw_time:
        try:
            captured_at = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(_("采集时间（captured_at）不是 ISO 8601 时间：%(value)s") % {"value": raw_time[:40]})
        if timezone.is_naive(captured_at):
            captured_at = timezone.make_aware(captured_at)
    point = (Decimal(f"{float(latitude):.6f}"), Decimal(f"{float(longitude):.6f}")) if valid_point(latitude, longitude) else (None, None)
    return services.Capture(key=key, captured_at=captured_at, latitude=point[0], longitude=point[1])


def _capture_or_400(request: HttpRequest):
    try:
        return _capture_from(request), None
    except ValidationError as exc:
        return None, HttpResponse(" ".join(_errors(exc)), status=400, content_type="text/plain; charset=utf-8")


def _module_result(
    request: HttpRequest,
    task: VisitTask,
    module_pk: int | None,
    result: str = "",
    status: int = 200,
    whole: bool = False,
    section: str = "",
    **extra,
) -> HttpResponse:
    """U2: the htmx answer to a capture: the module's card (with its result next to it) and, out
    of band, the lock and the task's status, so the page never reloads."""
    task.refresh_from_db()
    context = _task_context(request, task, **extra)
    context["card"] = next((card for card in context["cards"] if card["module"].pk == module_pk), None)
    context["result"] = result
    context["oob"] = True
    context["whole"] = whole
    context["section"] = section
    return render(request, "visits/task_detail.html#capture_result", context, status=status)


# --- Workbench (V7) ---------------------------------------------------------------------------


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    """工作台: today's tasks (open overdue ones first), and 开始拜访 from where the phone is."""
    today = timezone.localdate()
    tasks = (
        VisitTask.objects.filter(rep=request.user)
        .filter(Q(due_date=today) | Q(due_date__lt=today, status__in=(TaskStatus.PLANNED, TaskStatus.IN_PROGRESS)) | Q(completed_at__date=today))
        .select_related("customer", "customer__hospital", "contact", "template")
        .prefetch_related("template__modules", "evidence", "needs")
        .order_by("status", "due_date", "pk")
    )
    rows = [{"task": task, "missing": task.missing_modules()} for task in tasks]
    return render(
        request,
        "visits/workbench.html",
        {"rows": rows, "today": today, "is_manager": is_manager(request.user)},
    )


def _last_followups(customer_ids: list[int]) -> dict[int, object]:
    if not customer_ids:
        return {}
    return dict(
        Activity.objects.filter(customer_id__in=customer_ids)
        .values("customer_id")
        .annotate(last=Max("occurred_at"))
        .values_list("customer_id", "last")
    )


def nearest_hospital(user, latitude: float, longitude: float):
    """The nearest hospital among the user's visible customers (coordinates converted to WGS-84)."""
    best = None
    customers = list(Customer.objects.visible_to(user).select_related("hospital"))
    for hospital in {customer.hospital for customer in customers}:
        where = hospital_wgs84(hospital)
        if where is None:
            continue
        distance = haversine_m(latitude, longitude, *where)
        if best is None or distance < best[1]:
            best = (hospital, distance)
    if best is None:
        return None, None, []
    hospital, distance = best
    return hospital, round(distance), [customer for customer in customers if customer.hospital_id == hospital.pk]


@vary_on_headers("HX-Request")
@login_required
def start_visit(request: HttpRequest) -> HttpResponse:
    """开始拜访 without a planned task: the phone sends its position, the server pre-fills the
    nearest hospital, its customers and their last follow-up date; the rep confirms."""
    source = request.POST if request.method == "POST" else request.GET
    latitude, longitude = source.get("latitude"), source.get("longitude")
    hospital = distance = None
    customers = None
    if valid_point(latitude, longitude):
        hospital, distance, customers = nearest_hospital(request.user, float(latitude), float(longitude))
    if request.method == "POST":
        form = StartVisitForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                task = services.visit_task_create(
                    rep=request.user,
                    customer=data["customer"],
                    template=data["template"],
                    contact=data["contact"],
                    due_date=timezone.localdate(),
                    by=request.user,
                )
                services.visit_start(task=task, by=request.user, latitude=data["latitude"], longitude=data["longitude"])
            except (ValidationError, PermissionDenied) as exc:
                for message in _errors(exc) if isinstance(exc, ValidationError) else [_("没有权限。")]:
                    form.add_error(None, message)
            else:
                return redirect("visits:task_detail", pk=task.pk)
    else:
        initial = {"latitude": latitude, "longitude": longitude, "template": VisitTemplate.objects.filter(code=MEDICAL_CODE).first()}
        if customers:
            initial["customer"] = customers[0]
        form = StartVisitForm(initial=initial, user=request.user)
    followups = _last_followups([c.pk for c in customers]) if customers else {}
    context = {
        "form": form,
        "hospital": hospital,
        "distance": distance,
        "customers": [{"customer": c, "last_followup": followups.get(c.pk)} for c in customers or []],
        "located": hospital is not None,
    }
    template = "visits/start.html#prefill" if request.htmx else "visits/start.html"
    return render(request, template, context, status=200 if request.method == "GET" or not form.errors else 400)


# --- Tasks ------------------------------------------------------------------------------------


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    """Team visits for supervisors (drill-down entry), own visits for reps."""
    tasks = VisitTask.objects.visible_to(request.user).select_related("rep", "customer", "template", "contact")
    rep_id = parse_int_param(request.GET, "rep")
    status = request.GET.get("status", "")
    flagged = request.GET.get("flagged") == "1"
    if rep_id is not None:
        tasks = tasks.filter(rep_id=rep_id)
    if status in TaskStatus.values:
        tasks = tasks.filter(status=status)
    # K1: counted per row shown (correlated subqueries on the page's 50 rows), not grouped over
    # every visible task; a page of 50 without a total instead of the latest 200.
    evidence = Evidence.objects.filter(task=OuterRef("pk")).order_by().values("task")
    tasks = tasks.annotate(
        evidence_count=Coalesce(Subquery(evidence.annotate(n=Count("pk")).values("n")), 0),
        flagged_count=Coalesce(Subquery(evidence.filter(flagged=True).annotate(n=Count("pk")).values("n")), 0),
    )
    if flagged:
        tasks = tasks.filter(Exists(Evidence.objects.filter(task=OuterRef("pk"), flagged=True)))
    tasks, dates = date_range(request, tasks, "due_date")
    tasks, order = sort(request, tasks, TASK_SORTS, default="-date")
    if wants_export(request):
        headers = [_("日期"), _("销售"), _("客户"), _("医院"), _("任务包"), _("状态"), _("证据"), _("警示")]
        rows = (
            [t.due_date, person_name(t.rep, ""), t.customer.name, t.customer.hospital.name, t.template.name,
             t.get_status_display(), t.evidence_count, t.flagged_count]
            for t in tasks.select_related("customer__hospital")
        )
        return xlsx_response(request, "visits", headers, rows)
    reps = users_visible_to(request.user).filter(rep__isnull=False).order_by("username") if is_manager(request.user) else []
    return render(
        request,
        "visits/task_list.html",
        {"page": page_of(request, tasks), "reps": reps, "rep_id": "" if rep_id is None else str(rep_id), "status": status,
         "flagged": flagged, "statuses": TaskStatus.choices, "dates": dates, "sort": order},
    )


TASK_SORTS = {
    "date": "due_date", "rep": ("rep__username", "due_date"), "customer": ("customer__name", "due_date"),
    "status": ("status", "due_date"), "evidence": ("evidence_count", "due_date"),
}


@login_required
def task_create(request: HttpRequest) -> HttpResponse:
    form = TaskCreateForm(request.POST or None, user=request.user, initial={"rep": request.user, "due_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task = services.visit_task_create(
                rep=data["rep"], customer=data["customer"], template=data["template"], contact=data["contact"], due_date=data["due_date"], by=request.user
            )
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or _("没有权限。"))
        else:
            messages.success(request, _("已创建拜访任务。"))
            return redirect("visits:task_detail", pk=task.pk)
    return render(request, "visits/task_form.html", {"form": form}, status=400 if form.errors else 200)


def _task_context(request: HttpRequest, task: VisitTask, **extra) -> dict:
    evidence = list(
        task.evidence.select_related("uploaded_by", "transcript", "transcript__edited_by").order_by("module__position", "-version")
    )
    needs = list(task.needs.order_by("-version", "position"))
    task._prefetched_objects_cache = {"evidence": evidence, "needs": needs}
    modules = list(task.template.modules.all())
    missing_ids = {module.pk for module in task.missing_modules()}
    current_needs = task.current_needs()
    is_owner = request.user.pk == task.rep_id
    cards = []
    for module in modules:
        versions = [item for item in evidence if item.module_id == module.pk]
        superseded = {item.supersedes_id for item in versions if item.supersedes_id}
        for item in versions:
            item.is_superseded = item.pk in superseded
        card = {
            "module": module,
            "versions": versions,
            "current": versions[0] if versions else None,
            "current_items": [item for item in versions if item.pk not in superseded],  # U2: several photos
            "missing": module.pk in missing_ids,
        }
        if module.kind == ModuleKind.NEEDS:
            card["needs_current"] = current_needs
            card["needs_old"] = [need for need in needs if current_needs and need.version != current_needs[0].version]
            if is_owner:
                card["form"] = extra.pop(f"needs_form_{module.pk}", None) or NeedsForm(module=module, initial_needs=current_needs)
        elif is_owner:
            card["form"] = extra.pop(f"upload_form_{module.pk}", None) or EvidenceUploadForm(module=module, task=task)
        cards.append(card)
    pending_transcript = any(
        item.kind == ModuleKind.VOICE_MEMO and getattr(item, "transcript", None) and item.transcript.status in ("pending", "retrying")
        for item in evidence
    )
    context = {
        "task": task,
        "cards": cards,
        "missing": [module for module in modules if module.pk in missing_ids],
        "is_owner": is_owner,
        "can_supervise": is_manager(request.user),
        "notes_form": extra.pop("notes_form", None) or NotesForm(instance=task),
        "last_followup": _last_followups([task.customer_id]).get(task.customer_id),
        "pending_transcript": pending_transcript,
        "qr_url": qr.task_url(task),
        "photo_max_edge": int(getattr(settings, "VISITS_PHOTO_MAX_EDGE", 2048)),
        "photo_quality": float(getattr(settings, "VISITS_PHOTO_QUALITY", 0.85)),
    }
    context.update(extra)
    return context


@vary_on_headers("HX-Request")
@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk)
    template = "visits/task_detail.html#modules" if request.htmx else "visits/task_detail.html"
    return render(request, template, _task_context(request, task))


@login_required
def task_by_token(request: HttpRequest, token: str) -> HttpResponse:
    """V2: the QR code's URL. Opens the task for its rep (and anyone who may see it)."""
    task = get_task_by_token_for_user(request, token)
    return redirect("visits:task_detail", pk=task.pk)


@require_POST
@login_required
def task_start(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk, write=True)
    try:
        services.visit_start(task=task, by=request.user, latitude=request.POST.get("latitude"), longitude=request.POST.get("longitude"))
    except ValidationError as exc:
        if request.htmx:
            return _module_result(request, task, None, " ".join(_errors(exc)), status=400, whole=True)
        messages.error(request, " ".join(_errors(exc)))
    if request.htmx:
        return _module_result(request, task, None, _("拜访已开始。"), whole=True)
    return redirect("visits:task_detail", pk=task.pk)


@require_POST
@login_required
def task_notes(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk, write=True)
    capture, bad = _capture_or_400(request)
    if bad:
        return bad
    form = NotesForm(request.POST)  # validates the three fields only; the service saves them
    if form.is_valid():
        try:
            services.capture_begin(task=task, by=request.user, capture=capture)
            services.visit_notes_save(
                task=task, by=request.user, capture=capture, **{name: form.cleaned_data[name] for name in NotesForm.Meta.fields}
            )
        except services.CaptureReplayed:
            if request.htmx:
                return _module_result(request, task, None, _("拜访记录已保存。"), section="notes")
            return redirect("visits:task_detail", pk=task.pk)
        except ValidationError as exc:
            if request.htmx:
                form.add_error(None, " ".join(_errors(exc)))
                return _module_result(request, task, None, status=400, section="notes", notes_form=form)
            messages.error(request, " ".join(_errors(exc)))
        else:
            if request.htmx:
                return _module_result(request, task, None, _("拜访记录已保存（%(at)s）。") % {"at": f"{timezone.localtime():%H:%M}"}, section="notes")
            messages.success(request, _("拜访记录已保存。"))
            return redirect("visits:task_detail", pk=task.pk)
    if request.htmx:
        return _module_result(request, task, None, status=400, section="notes", notes_form=form)
    return render(request, "visits/task_detail.html", _task_context(request, task, notes_form=form), status=400)


def _module_of(task: VisitTask, module_pk: int) -> TemplateModule:
    try:
        return task.template.modules.get(pk=module_pk)
    except TemplateModule.DoesNotExist:
        raise Http404("module")


@require_POST
@login_required
def evidence_upload(request: HttpRequest, pk: int, module_pk: int) -> HttpResponse:
    """V3/V5: every upload is validated by content; a second one for the module is a new version."""
    task = get_task_for_user(request, pk, write=True)
    module = _module_of(task, module_pk)
    capture, bad = _capture_or_400(request)
    if bad:
        return bad
    form = EvidenceUploadForm(request.POST, request.FILES, module=module, task=task)
    wants_json = "application/json" in request.headers.get("Accept", "")
    evidence = None
    if form.is_valid():
        try:
            services.capture_begin(task=task, by=request.user, capture=capture)
            evidence = services.evidence_add(
                task=task,
                module=module,
                upload=form.cleaned_data["file"],
                by=request.user,
                correction_note=form.cleaned_data["correction_note"],
                additional=module.kind == ModuleKind.PHOTO and form.cleaned_data.get("replaces") is None and bool(form.cleaned_data.get("additional")),
                replaces=form.cleaned_data.get("replaces"),
                capture=capture,
            )
        except services.CaptureReplayed as replay:  # U3: the phone sent it again; answer as the first time
            evidence = replay.receipt.evidence
            if evidence is None:
                form.add_error("file", _("这个采集编号已用于其他内容。"))
        except FileRejected as exc:
            form.add_error("file", exc.message)
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error("file", message)
    if evidence is not None and not form.errors:
        if wants_json:
            return JsonResponse({"id": evidence.pk, "version": evidence.version, "sha256": evidence.sha256}, status=201)
        result = _("%(label)s 已上传（第 %(version)d 版）。") % {"label": module.label, "version": evidence.version}
        if request.htmx:
            return _module_result(request, task, module.pk, result)
        messages.success(request, result)
        return redirect(f"{reverse('visits:task_detail', args=[task.pk])}#module-{module.pk}")
    if wants_json:
        return JsonResponse({"errors": {name: [str(e) for e in errs] for name, errs in form.errors.items()}}, status=400)
    if request.htmx:
        return _module_result(request, task, module.pk, status=400, **{f"upload_form_{module.pk}": form})
    return render(request, "visits/task_detail.html", _task_context(request, task, **{f"upload_form_{module.pk}": form}), status=400)


@require_POST
@login_required
def needs_save(request: HttpRequest, pk: int, module_pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk, write=True)
    module = _module_of(task, module_pk)
    capture, bad = _capture_or_400(request)
    if bad:
        return bad
    form = NeedsForm(request.POST, module=module)
    if form.is_valid():
        try:
            services.capture_begin(task=task, by=request.user, capture=capture)
            services.needs_capture(task=task, module=module, items=form.items(), by=request.user, capture=capture)
        except services.CaptureReplayed:
            pass  # U3: already stored; answer as the first time
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        if not form.errors:
            if request.htmx:
                return _module_result(request, task, module.pk, _("核心需求已保存。"))
            messages.success(request, _("核心需求已保存。"))
            return redirect(f"{reverse('visits:task_detail', args=[task.pk])}#module-{module.pk}")
    if request.htmx:
        return _module_result(request, task, module.pk, status=400, **{f"needs_form_{module.pk}": form})
    return render(request, "visits/task_detail.html", _task_context(request, task, **{f"needs_form_{module.pk}": form}), status=400)


@require_POST
@login_required
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """V4: the page's button is a convenience; the service refuses while evidence is missing."""
    task = get_task_for_user(request, pk, write=True)
    try:
        services.visit_complete(task=task, by=request.user)
    except services.ActionLocked as exc:
        if request.htmx:
            return _module_result(request, task, None, status=409, lock_error=exc.messages[0])
        return render(request, "visits/task_detail.html", _task_context(request, task, lock_error=exc.messages[0]), status=409)
    except ValidationError as exc:
        if request.htmx:
            return _module_result(request, task, None, status=400, whole=True, lock_error=" ".join(_errors(exc)))
        messages.error(request, " ".join(_errors(exc)))
        return redirect("visits:task_detail", pk=task.pk)
    if request.htmx:
        return _module_result(request, task, None, _("拜访已完成。"), whole=True)
    messages.success(request, _("拜访已完成。"))
    return redirect("visits:workbench")


@require_POST
@login_required
def task_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_task_for_user(request, pk)
    try:
        services.visit_cancel(task=task, by=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(request, _("拜访任务已取消。"))
    return redirect("visits:task_detail", pk=task.pk)


# --- QR codes (V2) ----------------------------------------------------------------------------


@require_GET
@login_required
def task_qr(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    task = get_task_for_user(request, pk)
    if fmt not in ("svg", "png"):
        raise Http404("format")
    if fmt == "svg":
        response = HttpResponse(qr.qr_svg(task), content_type="image/svg+xml")
    else:
        response = HttpResponse(qr.qr_png(task), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def qr_pack(request: HttpRequest) -> HttpResponse:
    """A printable page of QR codes for the planned visits of a day (the supervisor hands them out)."""
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = timezone.localdate()
    tasks = (
        VisitTask.objects.visible_to(request.user)
        .filter(due_date=day, status__in=(TaskStatus.PLANNED, TaskStatus.IN_PROGRESS))
        .select_related("rep", "customer", "customer__hospital", "contact", "template")
        .order_by("rep__username", "customer__name")
    )
    rep_id = parse_int_param(request.GET, "rep")
    if rep_id is not None:
        tasks = tasks.filter(rep_id=rep_id)
    cards = [{"task": task, "svg": qr.qr_svg(task, scale=3).decode(), "url": qr.task_url(task)} for task in tasks[:200]]
    return render(request, "visits/qr_pack.html", {"cards": cards, "day": day, "previous": day - timedelta(days=1), "next": day + timedelta(days=1)})


# --- Evidence files (V8) ----------------------------------------------------------------------


BROWSER_SHOWS = ("image/jpeg", "image/png", "image/webp", "application/pdf")


def _file_response(field_file, content_type: str, filename: str, inline: bool = True) -> FileResponse:
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("file")
    response = FileResponse(handle, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # An evidence file is data, never a page: no script may run in its origin even if sniffed.
    # (A sandboxed document cannot host the browser's PDF viewer, so PDFs only lose scripts.)
    policy = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
    response["Content-Security-Policy"] = policy + ("; object-src 'self'" if content_type == "application/pdf" else "; sandbox")
    return response


def _download_name(evidence: Evidence) -> str:
    extension = mimetypes.guess_extension(evidence.content_type) or ""
    if evidence.content_type == "image/heic":
        extension = ".heic"
    return f"{evidence.task.customer.name}-{evidence.label}-v{evidence.version}{extension}".replace("/", "-")


@require_GET
@login_required
def evidence_file(request: HttpRequest, pk: int) -> FileResponse:
    """The original file, byte for byte, to users who may see the visit (others get 404)."""
    evidence = get_evidence_for_user(request, pk)
    actual = storage.file_sha256(evidence.file)
    if actual != evidence.sha256:  # R10: a changed or missing original is never served as evidence
        storage.integrity_alert(evidence, actual, where=f"下载（{request.user.get_username()}）")
        return render(request, "visits/evidence_integrity.html", {"evidence": evidence, "missing": actual is None}, status=409)
    privacy.log_access(request, evidence, AccessAction.DOWNLOAD)  # P3: a photo, a signature, a voice shows a person
    # Browsers show these themselves; anything else (HEIC, AMR …) is offered as a download.
    shown = evidence.content_type in BROWSER_SHOWS or evidence.is_audio
    # F2: a PDF with active content is never opened in the browser's viewer.
    active = any(flag.get("code") == "pdf_active_content" for flag in evidence.flags or [])
    inline = shown and not active and request.GET.get("download") != "1"
    if evidence.is_audio and inline and any(flag.get("code") == "audio_transcoded" for flag in evidence.flags or []):
        return _playable_audio(evidence)  # F3: AMR & co. play as AAC; ?download=1 gives the original
    return _file_response(evidence.file, evidence.content_type, _download_name(evidence), inline=inline)


def _playable_audio(evidence: Evidence) -> FileResponse:
    """A browser-playable AAC copy, made once per file content and kept beside the originals."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from . import media

    name = f"evidence/playable/{evidence.sha256}.m4a"
    if not default_storage.exists(name):
        with evidence.file.open("rb") as handle:
            data = handle.read()
        try:
            default_storage.save(name, ContentFile(media.playable_copy(data)))
        except media.FileRejected:
            return _file_response(evidence.file, evidence.content_type, _download_name(evidence), inline=False)
    return _file_response(_StoredFile(name), "audio/mp4", _download_name(evidence).rsplit(".", 1)[0] + ".m4a")


class _StoredFile:
    """The minimal FieldFile surface `_file_response` needs, for a storage name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def open(self, mode: str = "rb"):
        from django.core.files.storage import default_storage

        return default_storage.open(self.name, mode)


@require_GET
@login_required
def evidence_watermarked(request: HttpRequest, pk: int) -> FileResponse:
    """U2: the derived copy with time and place printed on it (the original is `evidence_file`)."""
    evidence = get_evidence_for_user(request, pk)
    if not evidence.watermarked:
        raise Http404("watermarked")
    return _file_response(evidence.watermarked, "image/jpeg", _download_name(evidence).rsplit(".", 1)[0] + "-watermark.jpg")


@require_GET
@login_required
def evidence_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    evidence = get_evidence_for_user(request, pk)
    if not evidence.thumbnail:
        raise Http404("thumbnail")
    return _file_response(evidence.thumbnail, "image/jpeg", f"thumb-{evidence.pk}.jpg")


@require_POST
@login_required
def transcript_save(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = get_evidence_for_user(request, pk)
    try:
        if request.POST.get("action") == "retry":
            services.transcript_retry_now(evidence=evidence, by=request.user)
            messages.success(request, _("已重新排队转写。"))
        else:
            services.transcript_save_manual(evidence=evidence, text=request.POST.get("text", ""), by=request.user)
            messages.success(request, _("转写文本已保存。"))
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    except VoiceTranscript.DoesNotExist:
        raise Http404("transcript")
    return redirect(f"{reverse('visits:task_detail', args=[evidence.task_id])}#evidence-{evidence.pk}")


# --- Template library (V1) --------------------------------------------------------------------


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    templates = VisitTemplate.objects.usable_by(request.user).select_related("team", "cloned_from").prefetch_related("modules")
    return render(request, "visits/template_list.html", {"templates": templates, "can_clone": is_manager(request.user)})


@login_required
def template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_template_for_user(request, pk)
    editable = False
    try:
        services.ensure_template_editable(template, request.user)
        editable = True
    except PermissionDenied:
        editable = False
    form = formset = None
    if editable:
        form = TemplateForm(request.POST or None, instance=template)
        formset = ModuleFormSet(request.POST or None, instance=template)
        if request.method == "POST":
            if form.is_valid() and formset.is_valid():
                template = form.save(commit=False)
                template._history_user = request.user
                template.save()
                for module in formset.save(commit=False):
                    module._history_user = request.user
                    module.full_clean()
                    module.save()
                messages.success(request, _("任务包已保存。"))
                return redirect("visits:template_detail", pk=template.pk)
    elif request.method == "POST":
        raise PermissionDenied
    return render(
        request,
        "visits/template_detail.html",
        {"template": template, "modules": template.modules.all(), "form": form, "formset": formset, "editable": editable, "can_clone": is_manager(request.user)},
        status=400 if form is not None and request.method == "POST" else 200,
    )


@require_POST
@login_required
def template_clone(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_template_for_user(request, pk)
    try:
        copy = services.template_clone(template=template, by=request.user, name=request.POST.get("name", "").strip())
    except ValidationError as exc:
        # R4: a name the model refuses (too long, …) is told next to the template, not a 500.
        for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [("", exc.messages)]:
            label = _("副本名称") if field == "name" else ""
            for error in errors:
                messages.error(request, f"{label}：{error}" if label else error)
        return redirect("visits:template_detail", pk=template.pk)
    messages.success(request, _("已克隆为“%(name)s”，可以修改副本。") % {"name": copy.name})
    return redirect("visits:template_detail", pk=copy.pk)


# --- JSON API (the same service, the same lock) -----------------------------------------------


def _task_json(task: VisitTask) -> dict:
    return {
        "id": task.pk,
        "status": task.status,
        "customer": task.customer.name,
        "template": task.template.code,
        "due_date": task.due_date.isoformat(),
        "missing": [{"module_id": module.pk, "label": module.label, "kind": module.kind} for module in task.missing_modules()],
    }


@require_GET
@login_required
def api_task(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_task_json(get_task_for_user(request, pk)))


@require_POST
@login_required
def api_task_complete(request: HttpRequest, pk: int) -> JsonResponse:
    task = get_task_for_user(request, pk, write=True)
    try:
        task = services.visit_complete(task=task, by=request.user)
    except services.ActionLocked as exc:
        return JsonResponse({"error": exc.messages[0], **_task_json(task)}, status=409)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(_errors(exc))}, status=400)
    return JsonResponse(_task_json(task))
