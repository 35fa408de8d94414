"""Lead pages: my leads, team leads, lead detail (timeline, why this rep), WeChat paste, the public
embeddable form, assignment rules + simulation, the in-app inbox. Thin views over services."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.db import OperationalError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.cache import never_cache
from django.views.decorators.vary import vary_on_headers

from salesops.access import is_manager, role_of, sees_everything
from salesops import privacy
from salesops.listing import list_page
from salesops.models import AccessAction, Channel, Notification, Product, Role
from salesops.search import search
from salesops.params import parse_int_param

from . import ratelimit
from .access import can_change_lead, get_lead_for_user
from .forms import CloseForm, ContactAttemptForm, PasteForm, ReassignForm, RulesDraftForm, SimulateForm, reassign_options
from .intake import PublicLeadForm, format_phone, parse_wechat_text
from .models import QUEUE_RANK_DONE, QUEUE_RANK_UNACKNOWLEDGED, AssignmentRules, Lead, LeadStatus, RulesStatus
from .paste_jobs import PasteJob, paste_job_start, sync_line_limit
from .services import (
    contact_attempt_record,
    lead_acknowledge,
    lead_close,
    lead_intake,
    lead_reassign,
    read_ack_token,
    rules_create_draft,
    rules_initial,
    rules_publish,
)
from .simulation import simulate
from .timeline import timeline

User = get_user_model()


def _segments(leads, now, timeout_minutes: int, *, open_only: bool) -> list:
    """K1: overdue and new first, then assigned within the timeout, then acknowledged, contacted,
    closed; newest first in each. Three index-ordered reads of the stored `queue_rank` instead
    of a CASE sorted over the whole table: the few leads assigned within the acknowledgement
    timeout are read by time (status + assigned_at index) and moved behind the overdue ones."""
    fresh = Q(status=LeadStatus.ASSIGNED, assigned_at__gt=now - timedelta(minutes=timeout_minutes))
    newest = ("-created_at", "-pk")
    later = leads.filter(queue_rank__gt=QUEUE_RANK_UNACKNOWLEDGED)
    if open_only:
        later = later.filter(queue_rank__lt=QUEUE_RANK_DONE)
    return [
        leads.filter(queue_rank=QUEUE_RANK_UNACKNOWLEDGED).exclude(fresh).order_by(*newest),
        leads.filter(fresh).order_by(*newest),
        later.order_by("queue_rank", *newest),
    ]


def _list_context(request: HttpRequest, leads, *, scope: str) -> dict:
    now = timezone.now()
    rules = AssignmentRules.live()
    state = request.GET.get("state", "open")
    query = request.GET.get("q", "").strip()
    if query:
        leads = leads.filter(pk__in=search(Lead, query))  # K2
    leads = leads.select_related("assignee", "hospital")
    page = list_page(_segments(leads, now, rules.ack_timeout_minutes, open_only=state == "open"), request.GET.get("page"), 30)
    for lead in page:
        lead.overdue = lead.is_overdue(now, rules.ack_timeout_minutes)
        lead.red = lead.is_not_followed_up(now)
        phone = privacy.phone_view(request.user, lead.phone, lead.assignee_id)  # P2
        lead.phone_display, lead.phone_tel = phone["shown"], phone["tel"]
    return {"page": page, "state": state, "query": query, "scope": scope, "timeout": rules.ack_timeout_minutes, "now": now}


@vary_on_headers("HX-Request")
@login_required
def my_leads(request: HttpRequest) -> HttpResponse:
    """我的线索 (rep, on the phone): new and overdue first; the list refreshes itself."""
    context = _list_context(request, Lead.objects.filter(assignee=request.user), scope="mine")
    template = "leads/my_leads.html#lead-list" if request.htmx else "leads/my_leads.html"
    return render(request, template, context)


@vary_on_headers("HX-Request")
@login_required
def team_leads(request: HttpRequest) -> HttpResponse:
    """团队线索 (supervisor): the team's leads and the unassigned pool, overdue first, reassign inline."""
    if not is_manager(request.user):
        raise PermissionDenied
    leads = Lead.objects.visible_to(request.user)
    rep_id = parse_int_param(request.GET, "rep")  # R4: "፩" or 23 digits is no filter, not a 500
    if rep_id is not None:
        leads = leads.filter(assignee_id=rep_id)
    context = _list_context(request, leads, scope="team")
    # K1: one shared control for the page, its options built from plain rows (no model instance
    # and no template loop per rep); the posted choice is validated by ReassignForm as before.
    context["reassign_options"] = reassign_options(request.user)
    context["rep_id"] = "" if rep_id is None else str(rep_id)
    template = "leads/team_leads.html#team-list" if request.htmx else "leads/team_leads.html"
    return render(request, template, context)


def _detail_context(request: HttpRequest, lead: Lead, *, revealed: bool = False) -> dict:
    rules = AssignmentRules.live()
    events, milestones = timeline(lead)
    decision = lead.decisions.select_related("rules", "chosen", "decided_by").order_by("-decided_at", "-pk").first()
    auto_decision = lead.decisions.filter(kind="auto", chosen__isnull=False).select_related("rules").order_by("-decided_at", "-pk").first()
    can_change = can_change_lead(request.user, lead)
    return {
        "lead": lead,
        "phone": privacy.phone_view(request.user, lead.phone, lead.assignee_id, revealed=revealed),  # P2
        "events": events,
        "milestones": milestones,
        "decision": decision,
        "why": auto_decision,
        "is_assignee": lead.assignee_id == request.user.pk,
        "can_change": can_change,
        "can_reassign": is_manager(request.user),
        "overdue": lead.is_overdue(timezone.now(), rules.ack_timeout_minutes),
        # U4: the acknowledgement countdown runs in the browser from this server-set deadline.
        "ack_deadline": (
            lead.assigned_at + timedelta(minutes=rules.ack_timeout_minutes)
            if lead.assigned_at and not lead.acknowledged_at and lead.is_open
            else None
        ),
        "contact_form": ContactAttemptForm(),
        "close_form": CloseForm(),
        "reassign_form": ReassignForm(user=request.user) if is_manager(request.user) else None,
        "repeats": lead.repeats.select_related("introduced_by"),
        "dialer_calls": lead.dialer_calls.all(),
    }


@vary_on_headers("HX-Request")
@login_required
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_lead_for_user(request, pk)
    if request.htmx:  # the timeline's refresh: no personal fields in it, nothing to log
        return render(request, "leads/lead_detail.html#timeline", _detail_context(request, lead))
    privacy.log_access(request, lead, AccessAction.VIEW)  # P3
    return render(request, "leads/lead_detail.html", _detail_context(request, lead))


@never_cache
@require_POST
@login_required
def reveal_phone(request: HttpRequest, pk: int) -> HttpResponse:
    """P2 显示完整号码: a deliberate POST by someone who may see the lead, logged (P3). htmx swaps
    the number in place; without JS the page comes back with the number in full."""
    lead = get_lead_for_user(request, pk)
    privacy.log_access(request, lead, AccessAction.REVEAL)
    phone = privacy.phone_view(request.user, lead.phone, lead.assignee_id, revealed=True)
    if request.htmx:
        return render(request, "salesops/_phone.html", {"phone": phone, "phone_id": "lead-phone"})
    return render(request, "leads/lead_detail.html", _detail_context(request, lead, revealed=True))


def _after_action(request: HttpRequest, lead: Lead) -> HttpResponse:
    """htmx: re-render the lead's live part in place; otherwise back to the page (PRG)."""
    if request.htmx:
        lead = get_lead_for_user(request, lead.pk)
        response = render(request, "leads/lead_detail.html#live", _detail_context(request, lead))
        response["Vary"] = "HX-Request"
        return response
    return redirect("leads:detail", pk=lead.pk)


def _attempt(request: HttpRequest, action, success: str) -> None:
    """Run a service step; a refused step becomes an error message next to the page, never a 500.
    A step that reports False (e.g. already acknowledged) says nothing."""
    try:
        if action() is not False:
            messages.success(request, success)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))


@require_POST
@login_required
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """The 接收 button (L6)."""
    lead = get_lead_for_user(request, pk, write=True)
    _attempt(request, lambda: lead_acknowledge(lead=lead, by=request.user, via="button"), _("已接收，请尽快联系客户"))
    return _after_action(request, lead)


def _ack_login_url(request: HttpRequest) -> str:
    """Where a logged-out reps goes first: WeCom OAuth when it is configured (the link is opened
    inside WeCom), else the password login; either way back to this page afterwards."""
    from urllib.parse import urlencode

    from salesops.integrations import wecom_oauth

    name = "wecom_login" if wecom_oauth.configured() else settings.LOGIN_URL
    return f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}"


@never_cache
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the WeCom card / e-mail / inbox (R2). Acknowledging is the assignee's act:
    the page needs the assignee's login and a POST (the 接收 button). Opening the link — a link
    scanner, a group member, a preview bot — never acknowledges. Anyone but the rep the link was
    sent to sees 404, as for a lead they may not see."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    decoded = read_ack_token(token)
    if decoded is None:
        return render(request, "leads/ack_invalid.html", status=404)
    if not request.user.is_authenticated:
        if request.method == "POST":
            raise PermissionDenied
        return redirect(_ack_login_url(request))
    lead_id, user_id = decoded
    lead = Lead.objects.filter(pk=lead_id).select_related("assignee", "hospital").first()
    if lead is None or request.user.pk != user_id:
        return render(request, "leads/ack_invalid.html", status=404)
    if lead.assignee_id != user_id:
        messages.warning(request, _("这条线索已改派给其他同事"))
        return redirect("leads:mine")
    if request.method == "POST":
        _attempt(request, lambda: lead_acknowledge(lead=lead, by=request.user, via="link"), _("已接收，请尽快联系客户"))
        return redirect("leads:detail", pk=lead.pk)
    privacy.log_access(request, lead, AccessAction.VIEW)  # P3: the assignee's own lead, shown in full
    return render(request, "leads/ack_confirm.html", {"lead": lead, "phone_display": format_phone(lead.phone), "token": token})


@require_POST
@login_required
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a call (with duration) or an on-site visit (L7)."""
    lead = get_lead_for_user(request, pk, write=True)
    form = ContactAttemptForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        _attempt(
            request,
            lambda: contact_attempt_record(
                lead=lead, kind=data["kind"], by=request.user, duration_seconds=form.duration_seconds, outcome=data["outcome"], note=data["note"]
            ),
            _("已记录联系"),
        )
    else:
        messages.error(request, "；".join(f"{form.fields[f].label if f in form.fields else ''} {' '.join(e)}".strip() for f, e in form.errors.items()))
    return _after_action(request, lead)


@require_POST
@login_required
def reassign(request: HttpRequest, pk: int) -> HttpResponse:
    """A supervisor reassigns a lead (recorded as a manual decision, L4)."""
    return _reassign(request, get_lead_for_user(request, pk, write=True))


@require_POST
@login_required
def reassign_picked(request: HttpRequest) -> HttpResponse:
    """The team list's one shared reassign control (K1): the lead is the row picked by radio."""
    lead_id = parse_int_param(request.POST, "lead")
    if lead_id is None:
        messages.error(request, _("请先选择要改派的线索"))
        return redirect("leads:team")
    return _reassign(request, get_lead_for_user(request, lead_id, write=True))


def _reassign(request: HttpRequest, lead: Lead) -> HttpResponse:
    if not is_manager(request.user):
        raise PermissionDenied
    form = ReassignForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        _attempt(
            request,
            lambda: lead_reassign(lead=lead, to_user=data["to"], by=request.user, reason=data["reason"], override=data["override"]),
            _("已改派"),
        )
    else:
        messages.error(request, "；".join(" ".join(errors) for errors in form.errors.values()))
    next_url = request.POST.get("next", "")
    if next_url == "team":
        return redirect("leads:team")
    return _after_action(request, lead)


@require_POST
@login_required
def close(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_lead_for_user(request, pk, write=True)
    form = CloseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        _attempt(request, lambda: lead_close(lead=lead, by=request.user, status=data["status"], reason=data["reason"]), _("线索状态已更新"))
    return _after_action(request, lead)


# --- WeChat paste (L2) ---------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@login_required
def paste(request: HttpRequest) -> HttpResponse:
    """Paste 【线索响应】 lines: preview (each line a lead or a line-level error), then confirm.
    Confirm re-parses the posted text, creates every valid line in one transaction, and puts
    the lines with errors back in the box to fix — nothing valid is lost, nothing half-done."""
    if role_of(request.user) not in (Role.REP, Role.SUPERVISOR, Role.DIRECTOR, Role.OPS):
        raise PermissionDenied
    form = PasteForm(request.POST or None)
    context: dict = {"form": form, "lines": None, "created": []}
    if request.method == "POST" and form.is_valid():
        lines = parse_wechat_text(form.cleaned_data["text"])
        context["lines"] = lines
        context["ok_count"] = sum(1 for line in lines if line.ok)
        context["error_count"] = sum(1 for line in lines if not line.ok)
        if request.POST.get("action") == "confirm" and context["ok_count"] > sync_line_limit():
            # R4: many lines are created by a background job; the page shows its progress.
            job = paste_job_start(lines=[line for line in lines if line.ok], by=request.user)
            return redirect(reverse("leads:paste_job", args=[job.pk]))
        if request.POST.get("action") == "confirm" and context["ok_count"]:
            created = []
            with transaction.atomic():
                for line in lines:
                    if line.ok:
                        created.append((line, lead_intake(data=line.data, by=request.user)))
            remaining = "\n".join(line.raw for line in lines if not line.ok)
            context.update(created=created, lines=[line for line in lines if not line.ok], form=PasteForm(initial={"text": remaining}))
            context["ok_count"] = 0
            new = sum(1 for _line, result in created if result.created)
            messages.success(request, _("已创建 %(new)s 条线索，%(dup)s 条并入已有线索") % {"new": new, "dup": len(created) - new})
    context["sync_lines"] = sync_line_limit()
    template = "leads/paste.html#preview" if request.htmx else "leads/paste.html"
    return render(request, template, context)


@vary_on_headers("HX-Request")
@login_required
def paste_job(request: HttpRequest, pk: int) -> HttpResponse:
    """Progress of a confirmed paste (polled by htmx every second until it is done)."""
    job = PasteJob.objects.filter(pk=pk, created_by=request.user).first()
    if job is None:
        raise Http404("paste job")
    leads = Lead.objects.filter(pk__in=job.lead_ids[:200]).order_by("pk") if job.finished else []
    context = {"form": PasteForm(), "job": job, "job_leads": leads, "lines": None, "created": [], "sync_lines": sync_line_limit()}
    template = "leads/paste.html#job" if request.htmx else "leads/paste.html"
    return render(request, template, context)


# --- The embeddable public form (L1) -----------------------------------------------------------


def _form_frame_ancestors() -> list[str]:
    """Origins allowed to frame the public form (the company website), e.g.
    LEAD_FORM_FRAME_ANCESTORS = ["https://www.example-medical.cn"]."""
    return [CSP.SELF, *getattr(settings, "LEAD_FORM_FRAME_ANCESTORS", [])]


PUBLIC_FORM_CSP = {**settings.SECURE_CSP, "frame-ancestors": _form_frame_ancestors()}


@csrf_exempt  # framed on another site the CSRF cookie is not sent (SameSite); see docs/leads.md
@xframe_options_exempt
@csp_override(PUBLIC_FORM_CSP)
def public_form(request: HttpRequest) -> HttpResponse:
    """官网线索表单, embeddable with an <iframe>. No secret can live in a browser, so: a honeypot
    field, a per-IP rate limit, and the same validation as the API."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    products = Product.objects.filter(active=True).values_list("model_number", "name")
    if request.method == "GET":
        return render(request, "leads/public_form.html", {"form": PublicLeadForm(), "products": products})
    form = PublicLeadForm(request.POST)
    if form.is_bot:
        # Answer like a success so the bot learns nothing; create nothing. Checked before the rate
        # limit (R6): a bot's posts do not use up the allowance of the people behind the same IP.
        return render(request, "leads/public_form.html", {"done": True})
    limit, window = getattr(settings, "LEAD_FORM_RATE_LIMIT", (5, 600))
    try:
        allowed, retry_after = ratelimit.hit("public-form", ratelimit.client_ip(request), limit=limit, window=window)
    except OperationalError:
        # The counters live in the database when there is no Redis: a locked database must not turn
        # into the bare 503 page that loses what the visitor typed (R1) — the intake below answers.
        allowed, retry_after = True, 0
    if not allowed:
        response = render(request, "leads/public_form.html", {"form": form, "products": products, "rate_limited": True, "retry_after": retry_after}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    if not form.is_valid():
        return render(request, "leads/public_form.html", {"form": form, "products": products}, status=400)
    try:
        lead_intake(data=form.intake_data())
    except OperationalError:
        # R1: a locked / timed-out database keeps what the visitor typed and asks for a resend;
        # anything that fails after the lead is saved is handled in the service (still success).
        form.add_error(None, _("系统繁忙，请稍后再点一次提交（您填写的内容已保留）"))
        response = render(request, "leads/public_form.html", {"form": form, "products": products}, status=503)
        response["Retry-After"] = "5"
        return response
    return render(request, "leads/public_form.html", {"done": True})


# --- Assignment rules and simulation (L4, L8) ------------------------------------------------------


@login_required
def rules_list(request: HttpRequest) -> HttpResponse:
    if not is_manager(request.user):
        raise PermissionDenied
    live = AssignmentRules.live()
    can_edit = sees_everything(request.user)
    form = RulesDraftForm(request.POST or None, instance=None, initial=rules_initial(live))
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                draft = rules_create_draft(by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("已保存草稿 v%(v)s，请先模拟再发布") % {"v": draft.version})
                return redirect("leads:simulate", pk=draft.pk)
    versions = AssignmentRules.objects.select_related("created_by", "published_by")[:30]
    return render(request, "leads/rules.html", {"live": live, "versions": versions, "form": form, "can_edit": can_edit})


@login_required
def rules_simulate(request: HttpRequest, pk: int) -> HttpResponse:
    """Replay the last N leads under this version and under the live rules, side by side (L8)."""
    if not is_manager(request.user):
        raise PermissionDenied
    rules = AssignmentRules.objects.filter(pk=pk).first()
    if rules is None:
        raise Http404("rules")
    form = SimulateForm(request.GET or None)
    n = form.cleaned_data["n"] if form.is_valid() else SimulateForm.base_fields["n"].initial
    result = simulate(rules, n, viewer=request.user)
    return render(
        request,
        "leads/simulate.html",
        {"rules": rules, "live": result.live.rules, "result": result, "form": form if form.is_bound else SimulateForm(initial={"n": n}),
         "can_publish": sees_everything(request.user) and rules.status == RulesStatus.DRAFT},
    )


@require_POST
@login_required
def rules_publish_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not sees_everything(request.user):
        raise PermissionDenied
    rules = AssignmentRules.objects.filter(pk=pk).first()
    if rules is None:
        raise Http404("rules")
    _attempt(request, lambda: rules_publish(rules=rules, by=request.user), _("规则 v%(v)s 已生效") % {"v": rules.version})
    return redirect("leads:rules")


# --- In-app inbox and badge (L5) ---------------------------------------------------------------


def _inbox(user):
    return Notification.objects.filter(recipient=user, channel=Channel.IN_APP)


@vary_on_headers("HX-Request")
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(_inbox(request.user).order_by("-created_at", "-pk"), 30).get_page(request.GET.get("page"))
    context = {"page": page, "unread": _inbox(request.user).filter(read_at__isnull=True).count()}
    template = "leads/inbox.html#items" if request.htmx else "leads/inbox.html"
    return render(request, template, context)


@vary_on_headers("HX-Request")
@login_required
def inbox_badge(request: HttpRequest) -> HttpResponse:
    """The nav badge's fragment (refreshed by htmx every 30 s): the unread count, empty at zero."""
    unread = _inbox(request.user).filter(read_at__isnull=True).count()
    return render(request, "leads/inbox.html#badge", {"unread": unread})


@require_POST
@login_required
def inbox_read(request: HttpRequest) -> HttpResponse:
    """Mark one (`id`) or all notifications read; a notification's link then opens normally."""
    notifications = _inbox(request.user).filter(read_at__isnull=True)
    notification_id = parse_int_param(request.POST, "id")
    if request.POST.get("id", "") and notification_id is None:
        notifications = notifications.none()  # an id that is no id marks nothing (not everything)
    elif notification_id is not None:
        notifications = notifications.filter(pk=notification_id)
    now = timezone.now()
    for notification in notifications[:500]:
        notification.read_at = now
        notification.save(update_fields=["read_at"])
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(reverse("leads:inbox"))
