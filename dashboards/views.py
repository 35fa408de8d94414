"""Dashboards views: the TV board (D1), KPIs with drill-down and suggestions (D2, D3),
interventions, and the director's report (D4). Thin: access through dashboards.access, numbers
from the modules, fragments from each page's own template."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import DurationField, ExpressionWrapper, F
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from leads.cash.models import Deal, DealStatus
from salesops.access import role_of
from salesops.models import Customer, Role

from . import board as board_data
from .access import get_intervention_for_user, get_report_for_user, interventions_visible_to, kpi_access, report_team_ids
from .charts import trend_chart
from .forms import InterventionCloseForm, ReportGenerateForm
from .kpis import clip_to_completed_days, closed_customers, evidence_actions, kpi_breakdown, kpi_cards, timeliness_by_basis, timeliness_leads
from .models import CONTACT_BASIS_CHOICES, InterventionKind, InterventionStatus, Kpi, ReportSnapshot, Threshold, TvScreen
from .periods import PERIOD_KINDS, Period, day_start, parse_day, today
from .reports import report_generate, report_pdf, visible_part
from .services import can_close_intervention, contact_basis_set, intervention_close, may_choose_contact_basis
from .suggestions import SAMPLE_UNITS, best_team_snapshot
from .workdays import calendar_gap

# --- D1: the TV board ------------------------------------------------------------------------


def _render_board(request: HttpRequest, board_url: str, screen: TvScreen | None = None) -> HttpResponse:
    now = timezone.now()
    context = {
        "board_url": board_url,
        "refresh_seconds": board_data.refresh_seconds(),
        "now": now,
        "screen": screen,
    }
    zone = request.GET.get("zone")
    if request.htmx and zone in board_data.ZONES:
        context[zone] = board_data.zone_context(zone, now)
        return render(request, f"dashboards/board.html#{zone}", context)
    for name in board_data.ZONES:
        context[name] = board_data.zone_context(name, now)
    return render(request, "dashboards/board.html", context)


def _screen_board(request: HttpRequest, token: str) -> HttpResponse:
    """A TV's token opens this board (and its fragments) only: it logs nobody in."""
    screen = TvScreen.objects.active().filter(token=token).first() if token else None
    if screen is None:
        raise Http404("screen")
    with translation.override(screen.language):
        response = _render_board(request, screen.get_absolute_url(), screen)
    response["Content-Language"] = screen.language
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_GET
@vary_on_headers("HX-Request")
def board(request: HttpRequest) -> HttpResponse:
    if "token" in request.GET:
        return _screen_board(request, request.GET["token"])
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if role_of(request.user) is None:
        raise Http404("no sales profile")
    return _render_board(request, reverse("dashboards:board"))


@never_cache
@require_GET
@vary_on_headers("HX-Request")
def board_screen(request: HttpRequest, token: str) -> HttpResponse:
    return _screen_board(request, token)


# --- D2/D3: KPIs -------------------------------------------------------------------------------


def _period_from(request: HttpRequest) -> Period:
    kind = request.GET.get("period", "week")
    if kind not in PERIOD_KINDS:
        kind = "week"
    return Period.containing(kind, parse_day(request.GET.get("date"), today()))


def _query(**params) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


@dataclass
class BreakdownRow:
    key: int
    label: str
    url: str
    cells: list  # [(Threshold, Cell, health)]


@vary_on_headers("HX-Request")
@login_required
def kpis(request: HttpRequest) -> HttpResponse:
    access = kpi_access(request)
    period = _period_from(request)
    thresholds = Threshold.all_by_kpi()
    cards = kpi_cards(access.scope, period, thresholds)
    scope_params = access.scope.query()
    rows = []
    if access.group:
        keys = [key for key, _label in access.roster]
        breakdown = kpi_breakdown(access.scope, period, access.group, keys, thresholds)
        for key, label in access.roster:
            params = {access.group: key, "period": period.kind, "date": period.start.isoformat()}
            cells = [(thresholds[k], breakdown[k][key], thresholds[k].health(breakdown[k][key].value)) for k in Kpi.values]
            rows.append(BreakdownRow(key, label, reverse("dashboards:kpis") + _query(**params), cells))
    period_tabs = [
        (kind, label, reverse("dashboards:kpis") + _query(**scope_params, period=kind, date=period.start.isoformat()))
        for kind, label in PERIOD_KINDS.items()
    ]
    context = {
        "calendar_gap": calendar_gap(today()),
        "access": access,
        "period": period,
        # T8: KPI 1 on both bases side by side; the director picks the one the KPI and alarm use.
        "timeliness_bases": timeliness_by_basis(access.scope, period, thresholds[Kpi.LEAD_TIMELINESS]),
        "contact_basis_choices": CONTACT_BASIS_CHOICES,
        "may_choose_basis": may_choose_contact_basis(request.user),
        "cards": [(card, trend_chart(card)) for card in cards],
        "rows": rows,
        "period_tabs": period_tabs,
        "prev_url": reverse("dashboards:kpis") + _query(**scope_params, period=period.kind, date=period.shifted(-1).start.isoformat()),
        "next_url": reverse("dashboards:kpis") + _query(**scope_params, period=period.kind, date=period.shifted(1).start.isoformat()),
        "is_current": period.contains(today()),
        "record_query": _query(**scope_params, period=period.kind, date=period.start.isoformat()),
        "company_url": reverse("dashboards:kpis") + _query(period=period.kind, date=period.start.isoformat()),
        "team_url": (
            reverse("dashboards:kpis") + _query(team=access.team.pk, period=period.kind, date=period.start.isoformat())
            if access.team and access.scope.level == "rep" and role_of(request.user) != Role.REP
            else ""
        ),
    }
    template = "dashboards/kpis.html"
    if request.htmx and not request.htmx.boosted:
        template += "#kpi-body"
    return render(request, template, context)


@require_http_methods(["POST"])
@login_required
def kpi_contact_basis(request: HttpRequest) -> HttpResponse:
    """T8: the director chooses which contact KPI 1 (and its alarm) counts; history-tracked."""
    try:
        contact_basis_set(basis=request.POST.get("contact_basis", ""), by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("线索转化时效的联系口径已更新。"))
    return redirect(reverse("dashboards:kpis") + _query(period=request.POST.get("period", ""), date=request.POST.get("date", "")))


def _kpi_or_404(kpi: str) -> str:
    if kpi not in Kpi.values:
        raise Http404("kpi")
    return kpi


@vary_on_headers("HX-Request")
@login_required
def kpi_suggestions(request: HttpRequest, kpi: str) -> HttpResponse:
    """D3: SOP, training video and the best team's snapshot for one KPI."""
    kpi = _kpi_or_404(kpi)
    kpi_access(request)  # anyone who may see a KPI may see its suggestions
    thresholds = Threshold.all_by_kpi()
    context = {
        "kpi": kpi,
        "kpi_label": Kpi(kpi).label,
        "threshold": thresholds[kpi],
        "snapshot": best_team_snapshot(kpi, thresholds),
        "min_sample": thresholds[kpi].min_sample,
        "sample_unit": SAMPLE_UNITS[Kpi(kpi)],
    }
    template = "dashboards/kpi_suggestions.html"
    if request.htmx:
        template += "#suggestions"
    return render(request, template, context)


def _record_span(request: HttpRequest) -> tuple[Period | None, date, date]:
    """An explicit ?start=&end= range (from an intervention) or the period of ?period=&date=."""
    start, end = request.GET.get("start"), request.GET.get("end")
    if start and end:
        first, last = parse_day(start, today()), parse_day(end, today())
        if last < first or (last - first).days > 400:
            raise Http404("range")
        return None, first, last
    period = _period_from(request)
    return period, period.start, period.last_day


@vary_on_headers("HX-Request")
@login_required
def kpi_records(request: HttpRequest, kpi: str) -> HttpResponse:
    """D2 drill-down: the records behind one KPI number."""
    kpi = _kpi_or_404(kpi)
    access = kpi_access(request)
    scope = access.scope
    period, first, last = _record_span(request)
    span = (day_start(first), day_start(last + timedelta(days=1)))
    threshold = Threshold.for_kpi(kpi)
    if kpi == Kpi.LEAD_TIMELINESS:
        # The very leads KPI 1 counts (D7): by first assignment, the never-contacted ones first.
        records = timeliness_leads(scope, *span, threshold.contact_basis).select_related("assignee", "hospital", "customer")
        records = records.annotate(
            response=ExpressionWrapper(F("contact_at") - F("clock_start"), output_field=DurationField())
        ).order_by(F("response").desc(nulls_first=True), "clock_start")
    elif kpi == Kpi.ACTION_FULLNESS:
        clipped = clip_to_completed_days([span])[0]
        records = evidence_actions(scope, *clipped).select_related("rep", "customer", "customer__hospital")
        records = records.order_by("-occurred_at", "-pk")
    else:
        involved = closed_customers([span], scope, None, threshold.lookback_days).get((None, 0), {})
        customers = Customer.objects.in_bulk(list(involved))
        people = get_user_model().objects.in_bulk({r for reps in involved.values() for r in reps})
        deals = Deal.objects.filter(
            status=DealStatus.WON, customer_id__in=list(involved), closed_at__gte=span[0], closed_at__lt=span[1]
        ).select_related("owner").order_by("-closed_at")
        by_customer: dict = {}
        for deal in deals:
            by_customer.setdefault(deal.customer_id, []).append(deal)
        records = sorted(
            (
                {
                    "customer": customers.get(customer_id),
                    "reps": sorted((people[r] for r in reps if r in people), key=lambda u: u.username),
                    "deals": by_customer.get(customer_id, []),
                }
                for customer_id, reps in involved.items()
            ),
            key=lambda row: (len(row["reps"]), row["customer"].name if row["customer"] else ""),
        )
    page = Paginator(records, 50).get_page(request.GET.get("page"))
    context = {
        "kpi": kpi,
        "kpi_label": Kpi(kpi).label,
        "threshold": threshold,
        "access": access,
        "first": first,
        "last": last,
        "page": page,
        "back_url": reverse("dashboards:kpis") + _query(**scope.query(), period=period.kind if period else "week", date=first.isoformat()),
    }
    template = "dashboards/kpi_records.html"
    if request.htmx:
        template += "#records"
    return render(request, template, context)


# --- Interventions -----------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@login_required
def intervention_list(request: HttpRequest) -> HttpResponse:
    if role_of(request.user) is None:
        raise Http404("no sales profile")
    status = request.GET.get("status", InterventionStatus.OPEN)
    kind = request.GET.get("kind", "")
    items = interventions_visible_to(request.user)
    if status in InterventionStatus.values:
        items = items.filter(status=status)
    if kind in InterventionKind.values:
        items = items.filter(kind=kind)
    page = Paginator(items.order_by("status", "due_on", "-pk"), 30).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "kind": kind,
        "statuses": InterventionStatus.choices,
        "kinds": InterventionKind.choices,
        "today": today(),
        "calendar_gap": calendar_gap(today()),
    }
    template = "dashboards/interventions.html"
    if request.htmx:
        template += "#list"
    return render(request, template, context)


@login_required
def intervention_badge(request: HttpRequest) -> HttpResponse:
    """The navigation badge: my open tasks (empty when none)."""
    count = interventions_visible_to(request.user).filter(owner=request.user, status=InterventionStatus.OPEN).count()
    return HttpResponse(str(count) if count else "")


@require_http_methods(["GET", "POST"])
@login_required
def intervention_detail(request: HttpRequest, pk: int) -> HttpResponse:
    intervention = get_intervention_for_user(request, pk, write=request.method == "POST")
    form = InterventionCloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            intervention_close(intervention=intervention, note=form.cleaned_data["closing_note"], by=request.user)
        except ValidationError as error:
            for message in error.message_dict.get("closing_note", error.messages):
                form.add_error("closing_note", message)
        else:
            messages.success(request, _("干预任务已关闭。"))
            return redirect(intervention.get_absolute_url())
    data = intervention.trigger_data or {}
    scope = data.get("scope") or {}
    drill = ""
    if scope.get("level") in ("team", "rep") and data.get("periods"):
        drill = reverse("dashboards:kpi_records", args=[intervention.kpi]) + _query(
            **{scope["level"]: scope.get("id")}, start=data["periods"][0]["first_day"], end=data["periods"][-1]["last_day"]
        )
    return render(
        request,
        "dashboards/intervention_detail.html",
        {
            "intervention": intervention,
            "form": form,
            "can_close": can_close_intervention(request.user, intervention),
            "periods": data.get("periods", []),
            "drill_url": drill,
            "today": today(),
        },
    )


# --- D4: reports -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    report_team_ids(request.user)  # 404 for reps
    form = ReportGenerateForm(request.POST or None, initial={"day": today() - timedelta(days=1)})
    if request.method == "POST" and form.is_valid():
        snapshot = report_generate(kind=form.cleaned_data["kind"], day=form.cleaned_data["day"], by=request.user)
        messages.success(request, _("%(report)s已生成。") % {"report": snapshot})
        return redirect(snapshot.get_absolute_url())
    snapshots = ReportSnapshot.objects.defer("data").select_related("generated_by")
    page = Paginator(snapshots, 30).get_page(request.GET.get("page"))
    return render(request, "dashboards/reports.html", {"page": page, "form": form, "calendar_gap": calendar_gap(today())})


@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    snapshot, team_ids = get_report_for_user(request, pk)
    return render(
        request,
        "dashboards/report.html",
        {"snapshot": snapshot, "data": visible_part(snapshot.data, team_ids), "kpis": Kpi.choices},
    )


@login_required
def report_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored PDF for the director; a supervisor's PDF holds only their teams, rendered from the
    snapshot's numbers (never from the company PDF)."""
    snapshot, team_ids = get_report_for_user(request, pk)
    filename = f"{snapshot.kind}-{snapshot.period_start:%Y%m%d}.pdf"
    if team_ids is None and snapshot.pdf:
        try:
            return FileResponse(snapshot.pdf.open("rb"), content_type="application/pdf", filename=filename)
        except FileNotFoundError:
            pass
    content = report_pdf(visible_part(snapshot.data, team_ids))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
