from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .access import get_customer_for_user, role_of
from .models import Activity, Customer


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
    return render(
        request,
        "salesops/customer_detail.html",
        {"customer": customer, "contacts": customer.contacts.all(), "activities": activities},
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
