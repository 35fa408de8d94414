"""Scoring pages: 我的贡献值, the team's points, the collaboration board (S4), bonus statements and
splits (S3). Thin views: lookups through scoring.access, numbers from scoring.queries."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from django.db.models import F

from salesops.access import is_manager, role_of, users_visible_to
from salesops.models import DEAN_TITLES, Contact, Customer, Role
from salesops.services import contact_title_verify

from . import queries
from .access import (
    get_activity_for_user,
    get_board_customer_for_user,
    get_person_for_user,
    get_split_for_user,
    may_decide_split,
    splits_visible_to,
)
from .forms import DrillForm, SplitCorrectionForm
from .models import Behaviour, BonusSplit, Contribution, ReviewStatus, SplitStatus
from .pdf import split_rule_text
from .pdf import statement_pdf as build_statement_pdf
from .periods import Period, month_of, next_quarter, parse_quarter, previous_quarter, quarter_of
from .services import contribution_review_decide, reviews_visible_to, split_approve, split_correct


def _quarter_from(request: HttpRequest) -> Period:
    value = request.GET.get("quarter")
    period = parse_quarter(value)
    if period is None:
        if value:
            messages.warning(request, _("无法识别的季度“%(value)s”（格式如 2026-Q1），已显示本季度。") % {"value": value})
        period = quarter_of(timezone.now())
    return period


def _quarter_nav(period: Period) -> dict:
    return {"quarter": period, "previous_quarter": previous_quarter(period), "next_quarter": next_quarter(period)}


# --- 我的贡献值 / team points -------------------------------------------------------------------


def _points_page(request: HttpRequest, person) -> HttpResponse:
    now = timezone.now()
    month, quarter = month_of(now), quarter_of(now)
    context = {
        "person": person,
        "person_name": queries.display_name(person),
        "is_me": person.pk == request.user.pk,
        "month": month,
        "quarter": quarter,
        "behaviours": queries.BEHAVIOURS,
        **queries.points_summary(person, month, quarter),
    }
    return render(request, "scoring/points.html", context)


@login_required
def my_points(request: HttpRequest) -> HttpResponse:
    return _points_page(request, request.user)


@login_required
def person_points(request: HttpRequest, user_id: int) -> HttpResponse:
    return _points_page(request, get_person_for_user(request, user_id))


@login_required
def team_points(request: HttpRequest) -> HttpResponse:
    if not is_manager(request.user):
        raise Http404("team")
    now = timezone.now()
    month, quarter = month_of(now), quarter_of(now)
    people = users_visible_to(request.user).filter(rep__role=Role.REP)
    context = {"month": month, "quarter": quarter, "behaviours": queries.BEHAVIOURS}
    context.update(queries.team_summary(people, month, quarter))
    return render(request, "scoring/team.html", context)


# --- 协作看板 (S4) -------------------------------------------------------------------------------


@login_required
def board(request: HttpRequest) -> HttpResponse:
    """Visible to every signed-in user by requirement (S4)."""
    quarter = _quarter_from(request)
    return render(request, "scoring/board.html", {**_quarter_nav(quarter), **queries.board_data(quarter)})


@vary_on_headers("HX-Request")
@login_required
def board_drill(request: HttpRequest) -> HttpResponse:
    """The actions behind a board cell (customer, rep, behaviour, hour) — a fragment under htmx."""
    form = DrillForm(request.GET)
    template = "scoring/board_drill.html"
    if request.htmx:
        template += "#actions"
    if not form.is_valid():
        return render(request, template, {"form": form, "actions": [], "errors": form.errors}, status=400)
    filters = form.cleaned_data
    quarter = parse_quarter(filters["quarter"]) or quarter_of(timezone.now())
    board_ids = [row["customer_id"] for row in queries.top_customers(quarter)]
    actions = Contribution.objects.payable().between(quarter.start, quarter.end)
    customer = None
    if filters["customer"]:
        customer = get_board_customer_for_user(request, filters["customer"], board_ids)
        actions = actions.filter(customer=customer)
    else:
        actions = actions.filter(customer_id__in=board_ids)
    if filters["rep"]:
        actions = actions.filter(rep_id=filters["rep"])
    if filters["behaviour"]:
        actions = actions.filter(behaviour=filters["behaviour"])
    if filters["weekday"]:
        actions = actions.filter(occurred_at__iso_week_day=filters["weekday"])
    if filters["hour"] is not None:
        actions = actions.filter(occurred_at__hour=filters["hour"])
    if filters["slot"]:
        start = filters["slot"]
        actions = actions.filter(occurred_at__gte=start, occurred_at__lt=start + timezone.timedelta(hours=1))
    actions = list(actions.select_related("rep", "customer", "customer__hospital", "activity")[:200])
    # Which proofs this user may open: the customer's (if visible) or their own / their team's.
    visible_customers = set(
        Customer.objects.visible_to(request.user)
        .filter(pk__in={action.customer_id for action in actions})
        .values_list("pk", flat=True)
    )
    visible_people = set(users_visible_to(request.user).values_list("pk", flat=True))
    for action in actions:
        action.may_open = action.customer_id in visible_customers or action.rep_id in visible_people
        action.rep_name = queries.display_name(action.rep)
    context = {
        "form": form,
        "quarter": quarter,
        "customer": customer,
        "actions": actions,
        "total_points": sum(action.points for action in actions),
        "behaviour_label": Behaviour(filters["behaviour"]).label if filters["behaviour"] else "",
        "filters": filters,
    }
    return render(request, template, context)


# --- Statements and splits (S3) -----------------------------------------------------------------


def _statement_context(request: HttpRequest, person) -> dict:
    quarter = _quarter_from(request)
    return {
        "person": person,
        "person_name": queries.display_name(person),
        "is_me": person.pk == request.user.pk,
        "rule_text": split_rule_text(),
        **_quarter_nav(quarter),
        **queries.statement(person, quarter),
    }


@login_required
def my_statement(request: HttpRequest) -> HttpResponse:
    return render(request, "scoring/statement.html", _statement_context(request, request.user))


@login_required
def person_statement(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_person_for_user(request, user_id)
    return render(request, "scoring/statement.html", _statement_context(request, person))


@login_required
def statement_pdf(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_person_for_user(request, user_id)
    context = _statement_context(request, person)
    content = build_statement_pdf(context)
    response = HttpResponse(content, content_type="application/pdf")
    filename = f"bonus-statement-{person.username}-{context['quarter'].key}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def split_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    splits = (
        splits_visible_to(request.user)
        .current()
        .select_related("deal", "deal__customer", "deal__hospital", "deal__owner")
        .order_by("status", "-deal__closed_at", "-pk")
    )
    if status in SplitStatus.values:
        splits = splits.filter(status=status)
    page = Paginator(splits, 50).get_page(request.GET.get("page"))
    return render(request, "scoring/split_list.html", {"page": page, "status": status, "statuses": SplitStatus.choices})


def _split_context(request: HttpRequest, split: BonusSplit, correction_form=None) -> dict:
    chain = []
    earlier = split.corrects
    while earlier is not None:  # corrections are rare; a chain is a handful of rows at most
        chain.append(earlier)
        earlier = earlier.corrects
    later = BonusSplit.objects.filter(corrects=split).first()
    shares = list(split.shares.select_related("rep").order_by("rank"))
    for share in shares:
        share.rep_name = queries.display_name(share.rep)
    actions = queries.counted_actions([split.pk]).get(split.pk, [])
    for action in actions:
        action.rep_name = queries.display_name(action.rep)
    decide = may_decide_split(request.user, split) and later is None
    return {
        "split": split,
        "deal": split.deal,
        "owner_name": queries.display_name(split.deal.owner),
        "created_by_name": queries.display_name(split.created_by) if split.created_by else "",
        "approved_by_name": queries.display_name(split.approved_by) if split.approved_by else "",
        "shares": shares,
        "actions": actions,
        "earlier": chain,
        "later": later,
        "may_approve": decide and split.status == SplitStatus.DRAFT,
        "may_correct": decide,
        "correction_form": correction_form or SplitCorrectionForm(),
    }


@login_required
def split_detail(request: HttpRequest, pk: int) -> HttpResponse:
    split = get_split_for_user(request, pk)
    return render(request, "scoring/split_detail.html", _split_context(request, split))


@require_POST
@login_required
def split_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    split = get_split_for_user(request, pk, write=True)
    try:
        split_approve(split=split, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("已审批，分配已冻结。"))
    return redirect("scoring:split_detail", pk=split.pk)


@require_POST
@login_required
def split_correct_view(request: HttpRequest, pk: int) -> HttpResponse:
    split = get_split_for_user(request, pk, write=True)
    form = SplitCorrectionForm(request.POST)
    if form.is_valid():
        try:
            correction = split_correct(
                split=split, reason=form.cleaned_data["reason"], pool=form.cleaned_data["pool"], by=request.user
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field_name, errors in error.message_dict.items():
                    form.add_error(field_name if field_name in form.fields else None, errors)
            else:
                form.add_error(None, error)
        else:
            messages.success(request, _("已生成更正分配 #%(pk)s，待审批。") % {"pk": correction.pk})
            return redirect("scoring:split_detail", pk=correction.pk)
    return render(request, "scoring/split_detail.html", _split_context(request, split, form), status=400)


@login_required
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The proof behind points: what happened, when, with which facts, and what it earned."""
    activity = get_activity_for_user(request, pk)
    contributions = list(activity.contributions.select_related("rule").order_by("behaviour"))
    splits = (
        splits_visible_to(request.user)
        .filter(contributions__activity=activity)
        .select_related("deal", "deal__customer")
        .distinct()
        .order_by("pk")
    )
    return render(
        request,
        "scoring/activity_detail.html",
        {
            "activity": activity,
            "rep_name": queries.display_name(activity.rep),
            "facts": sorted(activity.facts.items()) if isinstance(activity.facts, dict) else [],
            "contributions": contributions,
            "splits": splits,
        },
    )


# --- Review of held points (T2) and dean titles (T3) --------------------------------------------


def _review_context(request: HttpRequest) -> dict:
    visible = reviews_visible_to(request.user)
    pending = list(visible.filter(status=ReviewStatus.PENDING).order_by("created_at", "pk")[:100])
    decided = list(visible.exclude(status=ReviewStatus.PENDING).order_by("-decided_at", "-pk")[:30])
    for review in pending + decided:
        review.rep_name = queries.display_name(review.contribution.rep)
    contacts = (
        Contact.objects.filter(customer__in=Customer.objects.visible_to(request.user), title__in=sorted(map(str, DEAN_TITLES)))
        .exclude(title_verified_as=F("title"), title_verified_at__isnull=False)
        .select_related("customer")
        .order_by("customer__name", "name")[:100]
    )
    return {"pending": pending, "decided": decided, "contacts": contacts}


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """The supervisor's queue: held points accept/reject with a reason; dean titles to confirm."""
    if role_of(request.user) not in (Role.SUPERVISOR, Role.DIRECTOR):
        raise Http404("reviews")
    return render(request, "scoring/reviews.html", _review_context(request))


@require_POST
@login_required
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    review = reviews_visible_to(request.user).filter(pk=pk).first()
    if review is None:
        raise Http404("review")
    decision = request.POST.get("decision")
    if decision not in ("accept", "reject"):
        messages.error(request, _("请选择通过或驳回。"))
        return redirect("scoring:reviews")
    try:
        contribution_review_decide(review=review, accept=decision == "accept", reason=request.POST.get("reason", ""), by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        context = _review_context(request)
        return render(request, "scoring/reviews.html", context, status=400)
    messages.success(request, _("已通过，贡献值计入。") if decision == "accept" else _("已驳回，已追加冲销记录。"))
    return redirect("scoring:reviews")


@require_POST
@login_required
def contact_verify(request: HttpRequest, pk: int) -> HttpResponse:
    contact = Contact.objects.filter(customer__in=Customer.objects.visible_to(request.user), pk=pk).first()
    if contact is None:
        raise Http404("contact")
    try:
        contact_title_verify(contact=contact, title=request.POST.get("title", contact.title), by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("已核实 %(name)s 的职务。") % {"name": contact.name})
    return redirect("scoring:reviews")
