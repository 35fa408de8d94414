"""Thin views of lead-to-cash: look up through `access`, call a service, render (or a fragment of
the same template for htmx). Every page works without JavaScript."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from salesops.access import is_manager, users_visible_to
from salesops.params import parse_int, parse_int_param
from salesops.people import person_name
from salesops.tables import date_range, sort, wants_export, xlsx_response

from . import access, deals, lifecycle, quotes, statements
from .lifecycle import QuoteAction
from .forms import (
    MilestoneDatesForm,
    PlanItemFormSet,
    ReasonForm,
    VerifyForm,
    AllocationFormSet,
    ApprovalDecisionForm,
    ApprovalRequestForm,
    ConfirmForm,
    LineAddForm,
    LineValuesForm,
    LostForm,
    PaymentForm,
    QuoteCreateForm,
    TAX_CHOICES,
    StatementUploadForm,
    VersionMetaForm,
)
from .models import (
    ApprovalStatus,
    BankStatement,
    CashSettings,
    Deal,
    DealStatus,
    MatchAllocation,
    MatchProposal,
    OPEN_ROW_STATUSES,
    DueRule,
    Payment,
    PaymentCredit,
    ProposalStatus,
    Quote,
    QuoteStatus,
    QuoteVersion,
    Receivable,
    RowStatus,
    StatementRow,
    StatementStatus,
    progress_percent,
)
from .pdf import quote_pdf

STATUS_LABELS = dict(QuoteStatus.choices)


def _messages_of(exc: ValidationError) -> list[str]:
    return list(exc.messages)


def _flash_errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError shown next to the field it names (or above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errs in exc.message_dict.items():
            for message in errs:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _fragment(request: HttpRequest, template: str, name: str) -> str:
    return f"{template}#{name}" if request.htmx else template


# --- Quotes -------------------------------------------------------------------------------------


@login_required
def quote_list(request: HttpRequest) -> HttpResponse:
    latest = QuoteVersion.objects.filter(quote=OuterRef("pk")).order_by("-version")
    quotes_qs = (
        Quote.objects.visible_to(request.user)
        .select_related("customer__hospital", "rep")
        .annotate(
            latest_version=Subquery(latest.values("version")[:1]),
            latest_status=Subquery(latest.values("status")[:1]),
            latest_total=Subquery(latest.values("total")[:1]),
            latest_sent_at=Subquery(latest.values("sent_at")[:1]),
        )
        .order_by("-created_at")
    )
    status = request.GET.get("status", "")
    if status in STATUS_LABELS:
        quotes_qs = quotes_qs.filter(latest_status=status)
    query = request.GET.get("q", "").strip()
    if query:
        quotes_qs = quotes_qs.filter(Q(number__icontains=query) | Q(customer__name__icontains=query))
    quotes_qs, dates = date_range(request, quotes_qs, "created_at")
    quotes_qs, order = sort(request, quotes_qs, QUOTE_SORTS, default="-created")
    if wants_export(request):
        headers = [_("报价单号"), _("客户"), _("医院"), _("版本"), _("状态"), _("含税合计"), _("销售"), _("创建时间")]
        rows = (
            [q.number, q.customer.name, q.customer.hospital.name, q.latest_version, STATUS_LABELS.get(q.latest_status, ""),
             q.latest_total, person_name(q.rep, ""), q.created_at]
            for q in quotes_qs
        )
        return xlsx_response(request, "quotes", headers, rows)
    page = Paginator(quotes_qs, 30).get_page(request.GET.get("page"))
    now = timezone.now()
    for quote in page:
        quote.latest_status_label = STATUS_LABELS.get(quote.latest_status, "")
        quote.waiting_long = quote.latest_status == QuoteStatus.SENT and quote.latest_sent_at and (now - quote.latest_sent_at).total_seconds() > 72 * 3600
    return render(
        request,
        "cash/quote_list.html",
        {
            "page": page,
            "status": status,
            "query": query,
            "statuses": QuoteStatus.choices,
            "dates": dates,
            "sort": order,
            "pending_approvals": access.approvals_to_decide(request.user).count() if is_manager(request.user) else 0,
        },
    )


@login_required
def quote_new(request: HttpRequest) -> HttpResponse:
    form = QuoteCreateForm(request.POST or None, user=request.user, initial={"customer": request.GET.get("customer")})
    if request.method == "POST" and form.is_valid():
        quote = quotes.quote_create(customer=form.cleaned_data["customer"], by=request.user, note=form.cleaned_data["note"])
        messages.success(request, _("已创建报价 %(number)s，请添加产品。") % {"number": quote.number})
        return redirect("cash:quote_detail", quote.pk)
    return render(request, "cash/quote_new.html", {"form": form})


def _quote_context(request: HttpRequest, quote: Quote, version: QuoteVersion, **extra) -> dict:
    versions = list(quote.versions.order_by("-version"))
    lines = list(version.lines.select_related("product"))
    can_change = access.can_change_quote(request.user, quote)
    settings = CashSettings.load()
    approvals = list(version.approvals.select_related("requested_by", "decided_by"))
    pending = next((a for a in approvals if a.status == ApprovalStatus.PENDING), None)
    latest = versions[0]
    deal = Deal.objects.filter(quote_version__quote=quote).first()
    actions = lifecycle.actions_for(versions, closed=deal is not None) if can_change else {}
    context = {
        "quote": quote,
        "version": version,
        "versions": versions,
        "lines": lines,
        "is_latest": version.pk == latest.pk,
        "can_change": can_change,
        "editable": can_change and version.is_editable,
        "add_form": LineAddForm(),
        "meta_form": VersionMetaForm(initial={"valid_until": version.valid_until, "note": version.note}),
        "tax_choices": TAX_CHOICES,
        "discount_limit": settings.discount_limit_percent,
        "needs_approval": version.is_editable and quotes.needs_approval(version),
        "approvals": approvals,
        "pending_approval": pending,
        "can_decide": bool(pending and access.can_decide_approval(request.user, pending)),
        "approval_form": ApprovalRequestForm(),
        "decision_form": ApprovalDecisionForm(),
        "deal": deal,
        "actions": {action: item for action, item in actions.items()},
        "revisable": [item for item in versions if lifecycle.allowed(item.status, QuoteAction.REVISE)] if QuoteAction.REVISE in actions else [],
        "hours_waiting": version.hours_waiting(),
        "line_errors": {},
        "errors": [],
    }
    context.update(extra)
    for line in lines:
        line.over_limit = line.discount_percent > settings.discount_limit_percent
        line.errors = context["line_errors"].get(line.pk, [])
    return context


@vary_on_headers("HX-Request")
@login_required
def quote_detail(request: HttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk)
    version = quote.latest_version() if number is None else quote.versions.filter(version=number).first()
    if version is None:
        raise Http404("version")
    return render(request, _fragment(request, "cash/quote_detail.html", "lines"), _quote_context(request, quote, version))


def _draft_of(quote: Quote) -> QuoteVersion:
    version = quote.latest_version()
    if not version.is_editable:
        raise ValidationError(_("当前版本 v%(n)d 已%(status)s，不能修改；请先生成新版本。") % {"n": version.version, "status": version.get_status_display()})
    return version


def _lines_response(request: HttpRequest, quote: Quote, errors: list[str], line_errors: dict | None = None, add_form=None) -> HttpResponse:
    """htmx: the lines fragment with any errors beside the lines; otherwise back to the page."""
    if request.htmx:
        version = quote.latest_version()
        extra = {"errors": errors, "line_errors": line_errors or {}}
        if add_form is not None:
            extra["add_form"] = add_form
        return render(request, "cash/quote_detail.html#lines", _quote_context(request, quote, version, **extra))
    for message in errors + [m for ms in (line_errors or {}).values() for m in ms]:
        messages.error(request, message)
    return redirect(reverse("cash:quote_detail", args=[quote.pk]) + "#lines")


@vary_on_headers("HX-Request")
@login_required
@require_POST
def line_add(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    form = LineAddForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            quotes.quote_line_add(version=_draft_of(quote), by=request.user, **form.cleaned_data)
            form = LineAddForm()
        except ValidationError as exc:
            errors = _messages_of(exc)
    else:
        errors = [f"{form.fields[name].label}：{' '.join(errs)}" if name in form.fields else " ".join(errs) for name, errs in form.errors.items()]
    return _lines_response(request, quote, errors, add_form=form)


@vary_on_headers("HX-Request")
@login_required
@require_POST
def line_update(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    line = quote.latest_version().lines.filter(pk=line_pk).first()
    if line is None:
        raise Http404("line")
    form = LineValuesForm(request.POST)
    line_errors: dict = {}
    errors: list[str] = []
    if form.is_valid():
        try:
            _draft_of(quote)
            quotes.quote_line_update(line=line, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            errors = _messages_of(exc)
    else:
        line_errors[line.pk] = [f"{form.fields[name].label}：{' '.join(errs)}" for name, errs in form.errors.items()]
    return _lines_response(request, quote, errors, line_errors)


@vary_on_headers("HX-Request")
@login_required
@require_POST
def line_delete(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    line = quote.latest_version().lines.filter(pk=line_pk).first()
    if line is None:
        raise Http404("line")
    errors: list[str] = []
    try:
        _draft_of(quote)
        quotes.quote_line_remove(line=line, by=request.user)
    except ValidationError as exc:
        errors = _messages_of(exc)
    return _lines_response(request, quote, errors)


@login_required
@require_POST
def version_update(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    form = VersionMetaForm(request.POST)
    if form.is_valid():
        try:
            quotes.quote_version_update(version=_draft_of(quote), by=request.user, **form.cleaned_data)
            messages.success(request, _("已保存"))
        except ValidationError as exc:
            _flash_errors(request, exc)
    else:
        for name, errs in form.errors.items():
            messages.error(request, f"{form.fields[name].label}：{' '.join(errs)}")
    return redirect("cash:quote_detail", quote.pk)


def _act(request: HttpRequest, quote: Quote, service, success: str, **kwargs) -> HttpResponse:
    try:
        service(**kwargs)
        messages.success(request, success)
    except ValidationError as exc:
        _flash_errors(request, exc)
    return redirect("cash:quote_detail", quote.pk)


def _version_for(request: HttpRequest, quote: Quote, action: str) -> QuoteVersion | None:
    """The version a page action applies to (lifecycle.version_for); a flash message when none."""
    version = lifecycle.version_for(list(quote.versions.all()), action)
    if version is None:
        messages.error(request, _("当前没有可以%(action)s的版本。") % {"action": QuoteAction(action).label})
    return version


@login_required
@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    version = _version_for(request, quote, QuoteAction.SEND)
    if version is None:
        return redirect("cash:quote_detail", quote.pk)
    return _act(request, quote, quotes.quote_version_send, _("报价已发送，版本已冻结。"), version=version, by=request.user)


@login_required
@require_POST
def quote_revise(request: HttpRequest, pk: int) -> HttpResponse:
    """The next draft at current list prices, from the version named in `from` (default: the latest
    sent/rejected/expired one)."""
    quote = access.get_quote_for_user(request, pk, write=True)
    source = None
    number = request.POST.get("from", "")
    if number:
        source = quote.versions.filter(version=number).first() if number.isdigit() else None
        if source is None:
            messages.error(request, _("版本 v%(n)s 不存在") % {"n": number[:10]})
            return redirect("cash:quote_detail", quote.pk)
    try:
        draft = quotes.quote_revise(quote=quote, by=request.user, source=source)
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("cash:quote_detail", quote.pk)
    messages.success(request, _("已生成新版本草稿 v%(n)d（按现行价目表定价）。") % {"n": draft.version})
    if draft.dropped:
        messages.warning(request, _("以下产品已停售，未带入新版本：%(models)s") % {"models": "、".join(draft.dropped)})
    return redirect("cash:quote_detail", quote.pk)


@login_required
@require_POST
def quote_reject(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    version = _version_for(request, quote, QuoteAction.REJECT)
    if version is None:
        return redirect("cash:quote_detail", quote.pk)
    return _act(request, quote, quotes.quote_version_reject, _("已标记为客户拒绝。"), version=version, by=request.user)


@login_required
@require_POST
def quote_discard(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    version = _version_for(request, quote, QuoteAction.DISCARD)
    if version is None:
        return redirect("cash:quote_detail", quote.pk)
    reason = request.POST.get("reason", "")[:200]
    return _act(request, quote, quotes.quote_version_discard, _("草稿已作废。"), version=version, by=request.user, reason=reason)


@login_required
def quote_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer confirmed the latest sent version: it is confirmed and the won deal with its
    receivable plan is created (an open draft is closed)."""
    quote = access.get_quote_for_user(request, pk, write=True)
    version = _version_for(request, quote, QuoteAction.CONFIRM)
    if version is None:
        return redirect("cash:quote_detail", quote.pk)
    form = ConfirmForm(request.POST or None, version=version)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                plan = form.plan()
                quotes.quote_version_confirm(version=version, by=request.user)
                deal = deals.deal_win(version=version, by=request.user, plan=plan)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("报价已确认，已生成赢单 %(number)s。") % {"number": deal.number})
            return redirect("cash:deal_detail", deal.pk)
    return render(request, "cash/quote_confirm.html", {"quote": quote, "version": version, "form": form}, status=400 if form.errors else 200)


@login_required
def quote_lost(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    version = _version_for(request, quote, QuoteAction.LOSE)
    if version is None:
        return redirect("cash:quote_detail", quote.pk)
    form = LostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deal = deals.deal_lose(
                customer=quote.customer, by=request.user, reason=form.cleaned_data["reason"], detail=form.cleaned_data["detail"], version=version
            )
        except ValidationError as exc:
            for message in _messages_of(exc):
                form.add_error(None, message)
        else:
            messages.success(request, _("已记录丢单：%(reason)s") % {"reason": deal.lost_reason})
            return redirect("cash:quote_detail", quote.pk)
    return render(request, "cash/quote_lost.html", {"quote": quote, "version": version, "form": form}, status=400 if form.errors else 200)


@login_required
def quote_diff(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk)
    versions = list(quote.versions.select_related("revised_from").order_by("version"))
    by_number = {v.version: v for v in versions}
    try:
        new_number = int(request.GET.get("b") or versions[-1].version)
        default_old = by_number[new_number].revised_from.version if new_number in by_number and by_number[new_number].revised_from_id else max(new_number - 1, versions[0].version)
        old_number = int(request.GET.get("a") or default_old)
    except ValueError:
        raise Http404("version")
    if old_number not in by_number or new_number not in by_number:
        raise Http404("version")
    old, new = by_number[old_number], by_number[new_number]
    return render(
        request,
        "cash/quote_diff.html",
        {"quote": quote, "old": old, "new": new, "versions": versions, "diff": quotes.version_diff(old, new)},
    )


@login_required
def quote_pdf_download(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk)
    version = quote.versions.filter(version=number).first()
    if version is None:
        raise Http404("version")
    response = HttpResponse(quote_pdf(version), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, f"报价单-{quote.number}-v{version.version}.pdf")
    return response


@login_required
@require_POST
def approval_request(request: HttpRequest, pk: int) -> HttpResponse:
    quote = access.get_quote_for_user(request, pk, write=True)
    form = ApprovalRequestForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        version = _draft_of(quote)
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("cash:quote_detail", quote.pk)
    return _act(request, quote, quotes.discount_approval_request, _("已提交折扣审批，已通知主管。"), version=version, by=request.user, reason=reason)


@login_required
def approval_list(request: HttpRequest) -> HttpResponse:
    if not is_manager(request.user):
        raise Http404("approvals")
    pending = access.approvals_to_decide(request.user).select_related("version__quote__customer__hospital", "requested_by")
    return render(request, "cash/approval_list.html", {"approvals": pending, "decision_form": ApprovalDecisionForm()})


@login_required
@require_POST
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    approval = access.get_approval_for_user(request, pk, write=True)
    form = ApprovalDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择批准或驳回"))
    else:
        approve = form.cleaned_data["decision"] == "approve"
        try:
            quotes.discount_approval_decide(approval=approval, approve=approve, by=request.user, note=form.cleaned_data["note"])
            messages.success(request, _("已批准") if approve else _("已驳回"))
        except ValidationError as exc:
            _flash_errors(request, exc)
    if request.POST.get("next") == "list":
        return redirect("cash:approval_list")
    return redirect("cash:quote_detail", approval.version.quote_id)


# --- Deals, receivables, payments -----------------------------------------------------------------


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    deals_qs = Deal.objects.visible_to(request.user).select_related("hospital", "owner", "customer").with_progress()
    status = request.GET.get("status", "")
    if status in DealStatus.values:
        deals_qs = deals_qs.filter(status=status)
    query = request.GET.get("q", "").strip()
    if query:
        deals_qs = deals_qs.filter(Q(number__icontains=query) | Q(hospital__name__icontains=query) | Q(product_summary__icontains=query))
    deals_qs, dates = date_range(request, deals_qs, "closed_at")
    deals_qs, order = sort(request, deals_qs, DEAL_SORTS, default="-closed")
    if wants_export(request):
        headers = [_("成交编号"), _("医院"), _("客户"), _("产品型号"), _("金额"), _("已回款"), _("状态"), _("负责人"), _("成交时间")]
        rows = (
            [d.number, d.hospital.name if d.hospital else "", d.customer.name if d.customer else "", d.product_summary, d.amount,
             d.paid_total, d.get_status_display(), person_name(d.owner, ""), d.closed_at]
            for d in deals_qs
        )
        return xlsx_response(request, "deals", headers, rows)
    page = Paginator(deals_qs, 30).get_page(request.GET.get("page"))
    for deal in page:
        deal.percent = progress_percent(deal.paid_total, deal.receivable_total)
    return render(request, "cash/deal_list.html", {"page": page, "status": status, "query": query, "statuses": DealStatus.choices,
                                                   "dates": dates, "sort": order})


QUOTE_SORTS = {"created": "created_at", "number": "number", "customer": ("customer__name", "created_at"), "total": ("latest_total", "created_at")}
DEAL_SORTS = {"closed": "closed_at", "number": "number", "amount": ("amount", "closed_at"), "hospital": ("hospital__name", "closed_at")}


def _plan_initial(receivables) -> list[dict]:
    return [
        {
            "receivable_id": r.pk,
            "milestone": r.milestone,
            "percent": r.percent,
            "amount": None if r.percent is not None else r.amount,
            "due_rule": r.due_rule,
            "offset_days": r.offset_days,
            "offset_months": r.offset_months,
            "due_date": r.due_date if r.due_rule == DueRule.FIXED else None,
        }
        for r in receivables
        if not r.frozen
    ]


def _deal_context(request: HttpRequest, deal: Deal, payment_form=None, plan_formset=None, dates_form=None) -> dict:
    receivables = list(deal.receivables.annotate(payment_count=Count("payments")).order_by("sequence"))
    today = timezone.localdate()
    for receivable in receivables:
        receivable.overdue = receivable.is_overdue(today)
        receivable.frozen = bool(receivable.payment_count)
    can_change = access.can_change_deal(request.user, deal)
    may_reverse = access.can_reverse_payments(request.user)
    payments = list(
        Payment.objects.filter(receivable__deal=deal)
        .select_related("receivable", "pushed_by", "recorded_by", "approved_by", "reverses")
        .annotate(reversal_count=Count("reversal"))
    )
    for payment in payments:
        payment.reversed = bool(payment.reversal_count)
        payment.can_reverse = may_reverse and not payment.is_reversal and not payment.reversed
        payment.can_verify = (
            not payment.is_reversal
            and not payment.reversed
            and ((not payment.is_verified and access.is_finance(request.user)) or (payment.is_verified and not payment.pushed_by_id and is_manager(request.user)))
        )
    deal_credits = PaymentCredit.objects.filter(receivable__deal=deal).select_related("pusher", "named_by", "receivable")
    return {
        "deal": deal,
        "progress": deals.deal_progress(deal),
        "receivables": receivables,
        "payments": payments,
        "credits": list(deal_credits),
        "reps": deal.reps.all().order_by("username"),
        "can_change": can_change,
        "can_edit_plan": can_change and deal.status == DealStatus.WON,
        "plan_formset": plan_formset
        if plan_formset is not None
        else PlanItemFormSet(initial=_plan_initial(receivables), prefix="plan"),
        "dates_form": dates_form if dates_form is not None else MilestoneDatesForm(initial={"delivered_on": deal.delivered_on, "accepted_on": deal.accepted_on}),
        "verify_form": VerifyForm(deal=deal, user=request.user) if is_manager(request.user) else None,
        "reason_form": ReasonForm(),
        "payment_form": payment_form if payment_form is not None else (PaymentForm(deal=deal, user=request.user) if can_change else None),
    }


@vary_on_headers("HX-Request")
@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = access.get_deal_for_user(request, pk)
    return render(request, _fragment(request, "cash/deal_detail.html", "payments"), _deal_context(request, deal))


@vary_on_headers("HX-Request")
@login_required
@require_POST
def payment_new(request: HttpRequest, pk: int) -> HttpResponse:
    """回款: finance or a rep records money received; finance or a supervisor names the pusher."""
    deal = access.get_deal_for_user(request, pk, write=True)
    form = PaymentForm(request.POST, deal=deal, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            deals.payment_record(
                receivable=data["receivable"],
                amount=data["amount"],
                received_on=data["received_on"],
                by=request.user,
                pushed_by=data.get("pushed_by"),
                reference=data["reference"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("已记录回款 ¥%(amount)s") % {"amount": data["amount"]})
                return redirect("cash:deal_detail", deal.pk)
            form = None
    if not request.htmx and form is not None:
        return render(request, "cash/deal_detail.html", _deal_context(request, deal, payment_form=form), status=400)
    return render(request, "cash/deal_detail.html#payments", _deal_context(request, deal, payment_form=form))


def _payment_of(request: HttpRequest, deal: Deal, payment_pk: int) -> Payment:
    payment = Payment.objects.filter(receivable__deal=deal, pk=payment_pk).select_related("receivable__deal").first()
    if payment is None:
        raise Http404("payment")
    return payment


@login_required
@require_POST
def payment_reverse(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """C5: finance or a supervisor reverses a payment by a counter-entry, with a reason."""
    deal = access.get_deal_for_user(request, pk)
    if not access.can_reverse_payments(request.user):
        raise PermissionDenied
    payment = _payment_of(request, deal, payment_pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("冲销原因：%(error)s") % {"error": " ".join(form.errors.get("reason", []))})
        return redirect("cash:deal_detail", deal.pk)
    try:
        deals.payment_reverse(payment=payment, by=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("已冲销回款 ¥%(amount)s（原记录保留）。") % {"amount": payment.amount})
    except ValidationError as exc:
        _flash_errors(request, exc)
    return redirect("cash:deal_detail", deal.pk)


@login_required
@require_POST
def payment_verify(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """T4: finance approves a manually recorded payment and/or a manager names its pusher."""
    deal = access.get_deal_for_user(request, pk)
    if not is_manager(request.user):
        raise PermissionDenied
    payment = _payment_of(request, deal, payment_pk)
    form = VerifyForm(request.POST, deal=deal, user=request.user)
    if not form.is_valid():
        messages.error(request, _("回款推动人：%(error)s") % {"error": " ".join(form.errors.get("pushed_by", []))})
        return redirect("cash:deal_detail", deal.pk)
    try:
        deals.payment_verify(payment=payment, by=request.user, pushed_by=form.cleaned_data["pushed_by"])
        messages.success(request, _("已核实。"))
    except ValidationError as exc:
        _flash_errors(request, exc)
    return redirect("cash:deal_detail", deal.pk)


@login_required
@require_POST
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """C6: edit the milestone plan; instalments with money stay as they are."""
    deal = access.get_deal_for_user(request, pk, write=True)
    formset = PlanItemFormSet(request.POST, prefix="plan")
    if formset.is_valid():
        items = [form.item() for form in formset if form.cleaned_data and (form.has_changed() or form.cleaned_data.get("receivable_id"))]
        try:
            deals.receivable_plan_update(deal=deal, items=items, by=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                formset._non_form_errors = formset.error_class([*formset.non_form_errors(), message])
        else:
            messages.success(request, _("回款计划已保存。"))
            return redirect("cash:deal_detail", deal.pk)
    return render(request, "cash/deal_detail.html", _deal_context(request, deal, plan_formset=formset), status=400)


@login_required
@require_POST
def deal_dates(request: HttpRequest, pk: int) -> HttpResponse:
    """Delivery and acceptance dates; instalments waiting for them get their due dates."""
    deal = access.get_deal_for_user(request, pk, write=True)
    form = MilestoneDatesForm(request.POST)
    if form.is_valid():
        try:
            deals.deal_milestones_set(deal=deal, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("已保存到货/验收日期，到期日已按计划规则更新。"))
            return redirect("cash:deal_detail", deal.pk)
    return render(request, "cash/deal_detail.html", _deal_context(request, deal, dates_form=form), status=400)


@login_required
def receivable_list(request: HttpRequest) -> HttpResponse:
    receivables = (
        Receivable.objects.visible_to(request.user)
        .select_related("deal__hospital", "deal__owner")
        
        .order_by("due_date", "pk")
    )
    show = request.GET.get("show", "open")
    today = timezone.localdate()
    if show == "open":
        receivables = receivables.open()
    elif show == "overdue":
        receivables = receivables.overdue(today)
    page = Paginator(receivables, 50).get_page(request.GET.get("page"))
    for receivable in page:
        receivable.overdue = receivable.is_overdue(today)
    return render(request, "cash/receivable_list.html", {"page": page, "show": show})


@login_required
def overdue(request: HttpRequest) -> HttpResponse:
    """Overdue receivables per rep and per team (the viewer's scope)."""
    today = timezone.localdate()
    receivables = Receivable.objects.visible_to(request.user).overdue(today)
    owner = parse_int_param(request.GET, "rep")
    rows = receivables.select_related("deal__hospital", "deal__owner__rep__team").order_by("due_date")
    if owner is not None and users_visible_to(request.user).filter(pk=owner).exists():
        rows = rows.filter(deal__owner_id=owner)
    summary = deals.overdue_summary(receivables)
    rows = list(rows[:200])
    for row in rows:
        row.days_overdue = (today - row.due_date).days
    return render(request, "cash/overdue.html", {"rows": rows, "summary": summary, "today": today, "selected_rep": "" if owner is None else str(owner)})


# --- Bank statements -------------------------------------------------------------------------------


@login_required
def statement_list(request: HttpRequest) -> HttpResponse:
    if not access.is_finance(request.user):
        if access.can_review_statements(request.user):
            return redirect("cash:review_queue")
        raise Http404("statements")
    form = StatementUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            statement = statements.statement_upload(account=form.cleaned_data["account"], uploaded_file=form.cleaned_data["file"], by=request.user)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("已上传「%(name)s」，正在导入。") % {"name": statement.original_name})
            return redirect("cash:statement_detail", statement.pk)
    page = Paginator(BankStatement.objects.select_related("account", "uploaded_by"), 30).get_page(request.GET.get("page"))
    return render(request, "cash/statement_list.html", {"form": form, "page": page}, status=400 if form.errors else 200)


@vary_on_headers("HX-Request")
@login_required
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = access.get_statement_for_user(request, pk)
    rows = Paginator(statement.rows.order_by("line_number"), 100).get_page(request.GET.get("page"))
    context = {
        "statement": statement,
        "rows": rows,
        "busy": statement.status in (StatementStatus.QUEUED, StatementStatus.PROCESSING),
    }
    return render(request, _fragment(request, "cash/statement_detail.html", "status"), context)


def _rows_with_proposals(rows):
    allocations = MatchAllocation.objects.select_related("receivable__deal__hospital", "receivable__deal__owner")
    proposals = MatchProposal.objects.filter(status=ProposalStatus.OPEN).prefetch_related(Prefetch("allocations", queryset=allocations))
    return rows.prefetch_related(Prefetch("match_proposals", queryset=proposals, to_attr="open_proposals"))


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """Incoming payments waiting for a person: high-confidence proposals first, then the rest."""
    if not access.can_review_statements(request.user):
        raise Http404("review")
    show = request.GET.get("show", "")
    rows = access.statement_rows_for(request.user).filter(status__in=OPEN_ROW_STATUSES)
    counts = {
        "proposed": rows.filter(status=RowStatus.PROPOSED).count(),
        "review": rows.filter(status=RowStatus.REVIEW).count(),
        "partial": rows.filter(status=RowStatus.PARTIAL).count(),
    }
    if show in OPEN_ROW_STATUSES:
        rows = rows.filter(status=show)
    rows = _rows_with_proposals(rows.select_related("account").order_by("-status", "booked_on", "pk"))
    page = Paginator(rows, 30).get_page(request.GET.get("page"))
    return render(request, "cash/review_queue.html", {"page": page, "show": show, "counts": counts})


def _allocatable(request: HttpRequest):
    return Receivable.objects.visible_to(request.user).open().select_related("deal__hospital").order_by("deal__hospital__name", "due_date")


@login_required
def row_detail(request: HttpRequest, pk: int, formset=None) -> HttpResponse:
    row = access.get_statement_row_for_user(request, pk)
    row = _rows_with_proposals(StatementRow.objects.filter(pk=row.pk).select_related("statement", "account", "decided_by")).get()
    if formset is None:
        formset = AllocationFormSet(form_kwargs={"receivables": _allocatable(request)}, prefix="alloc")
    return render(
        request,
        "cash/row_detail.html",
        {
            "row": row,
            "formset": formset,
            "open": row.status in OPEN_ROW_STATUSES and row.remainder > 0,
            "payments": row.payments.select_related("receivable__deal", "pushed_by", "reverses"),
        },
    )


@login_required
@require_POST
def row_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    row = access.get_statement_row_for_user(request, pk)
    proposal = row.match_proposals.filter(pk=parse_int(request.POST.get("proposal"), minimum=1) or 0, status=ProposalStatus.OPEN).first()
    if proposal is None:
        raise Http404("proposal")
    visible = set(Receivable.objects.visible_to(request.user).values_list("pk", flat=True))
    if not all(allocation.receivable_id in visible for allocation in proposal.allocations.all()):
        raise Http404("proposal")
    try:
        payments = statements.match_proposal_confirm(proposal=proposal, by=request.user)
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("cash:row_detail", row.pk)
    messages.success(request, _("已确认，记录回款 %(n)d 笔。") % {"n": len(payments)})
    return redirect("cash:review_queue")


@login_required
@require_POST
def row_allocate(request: HttpRequest, pk: int) -> HttpResponse:
    """A person allocates the row by hand (partial, combined, or a payer we did not recognise)."""
    row = access.get_statement_row_for_user(request, pk)
    if row.status not in OPEN_ROW_STATUSES or row.remainder <= 0:
        messages.error(request, _("这笔流水已处理（%(status)s），没有未分配金额。") % {"status": row.get_status_display()})
        response = row_detail(request, pk)
        response.status_code = 400
        return response
    formset = AllocationFormSet(request.POST, form_kwargs={"receivables": _allocatable(request)}, prefix="alloc")
    if formset.is_valid():
        allocations = [(form.cleaned_data["receivable"], form.cleaned_data["amount"]) for form in formset if form.cleaned_data.get("receivable")]
        try:
            payments = statements.statement_row_confirm(row=row, allocations=allocations, by=request.user)
        except ValidationError as exc:
            for message in _messages_of(exc):
                formset._non_form_errors = formset.error_class([*formset.non_form_errors(), message])
        else:
            messages.success(request, _("已确认，记录回款 %(n)d 笔。") % {"n": len(payments)})
            return redirect("cash:review_queue")
    response = row_detail(request, pk, formset=formset)
    response.status_code = 400
    return response


@login_required
@require_POST
def row_ignore(request: HttpRequest, pk: int) -> HttpResponse:
    """The (remaining) money is not ours."""
    row = access.get_statement_row_for_user(request, pk)
    try:
        statements.statement_row_ignore(row=row, by=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, _("已标记为非我方款项。"))
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("cash:row_detail", row.pk)
    return redirect("cash:review_queue")


@login_required
@require_POST
def row_refund(request: HttpRequest, pk: int) -> HttpResponse:
    """The remainder went back to the payer."""
    row = access.get_statement_row_for_user(request, pk)
    try:
        statements.statement_row_refund(row=row, by=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, _("已记录余额退回。"))
    except ValidationError as exc:
        _flash_errors(request, exc)
        return redirect("cash:row_detail", row.pk)
    return redirect("cash:review_queue")


def nav_approval_badge(request: HttpRequest) -> HttpResponse:
    """The nav badge: pending discount approvals for this manager (empty renders nothing)."""
    if not request.user.is_authenticated or not is_manager(request.user):
        return HttpResponse("")
    count = access.approvals_to_decide(request.user).count()
    return HttpResponse(str(count) if count else "")


def nav_review_badge(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated or not access.can_review_statements(request.user):
        return HttpResponse("")
    count = access.statement_rows_for(request.user).filter(status__in=OPEN_ROW_STATUSES).count()
    return HttpResponse(str(count) if count else "")

