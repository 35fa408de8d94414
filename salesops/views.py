from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from .access import get_customer_for_user, is_manager, role_of
from .forms import CustomerForm
from .models import Activity, Customer, Hospital, HospitalGrade
from .services import customer_update


@login_required
def home(request: HttpRequest) -> HttpResponse:
    recent = Activity.objects.filter(rep=request.user).select_related("customer")[:10]
    return render(request, "salesops/home.html", {"recent_activities": recent, "role": role_of(request.user)})


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    customers = Customer.objects.visible_to(request.user).select_related("hospital", "owner", "owner__rep")
    if query:
        customers = customers.filter(Q(name__icontains=query) | Q(hospital__name__icontains=query))
    page = Paginator(customers.order_by("hospital__name", "name"), 50).get_page(request.GET.get("page"))
    return render(request, "salesops/customer_list.html", {"page": page, "query": query})


@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_customer_for_user(request, pk)
    activities = customer.activities.select_related("rep")[:50]
    can_edit = is_manager(request.user) or customer.owner_id == request.user.pk
    return render(
        request,
        "salesops/customer_detail.html",
        {"customer": customer, "contacts": customer.contacts.all(), "activities": activities, "can_edit": can_edit},
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A2: edits made here are recorded with the acting user and show in the record's history."""
    customer = get_customer_for_user(request, pk, write=True)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        # The form works on a copy so that a refused change leaves `customer` as it is in the database.
        original = get_customer_for_user(request, pk, write=True)
        data = {name: form.cleaned_data[name] for name in form.fields}
        try:
            changed = customer_update(customer=original, data=data, by=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if changed:
                messages.success(request, gettext("已保存。"))
            return redirect("customers:detail", pk=original.pk)
    return render(request, "salesops/customer_form.html", {"customer": customer, "form": form}, status=400 if form.errors else 200)


def get_hospital_for_user(request: HttpRequest, pk) -> Hospital:
    """Hospitals are shared master data: every signed-in user may read them; changes go through admin."""
    try:
        return Hospital.objects.get(pk=pk)
    except (Hospital.DoesNotExist, ValueError, TypeError):
        raise Http404("hospital")


@login_required
def hospital_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    grade = request.GET.get("grade", "")
    hospitals = Hospital.objects.annotate(department_count=Count("departments"))
    if query:
        hospitals = hospitals.filter(Q(name__icontains=query) | Q(city__icontains=query) | Q(address__icontains=query))
    if grade in HospitalGrade.values:
        hospitals = hospitals.filter(grade=grade)
    page = Paginator(hospitals.order_by("city", "name"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "salesops/hospital_list.html",
        {"page": page, "query": query, "grade": grade, "grades": HospitalGrade.choices},
    )


@login_required
def hospital_detail(request: HttpRequest, pk: int) -> HttpResponse:
    hospital = get_hospital_for_user(request, pk)
    customers = Customer.objects.visible_to(request.user).filter(hospital=hospital).select_related("department", "owner")
    return render(
        request,
        "salesops/hospital_detail.html",
        {"hospital": hospital, "departments": hospital.departments.all(), "customers": customers},
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the task broker answer, 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        from django_q.brokers import get_broker

        broker = get_broker()
        # The ORM broker's ping() is always True, so also ask for the queue size (a real query).
        broker.queue_size()
        checks["broker"] = "ok" if broker.ping() is not False else "error: no answer"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503)
