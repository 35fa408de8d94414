from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from .access import get_customer_for_user, is_manager, role_of
from .forms import CustomerForm
from .integrations import IntegrationError, wecom_oauth
from .models import Activity, Customer, Hospital, HospitalGrade
from .search import search
from .services import customer_update

logger = logging.getLogger(__name__)
User = get_user_model()
WECOM_SESSION_KEY = "wecom_oauth"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    recent = Activity.objects.filter(rep=request.user).select_related("customer")[:10]
    return render(request, "salesops/home.html", {"recent_activities": recent, "role": role_of(request.user)})


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    customers = Customer.objects.visible_to(request.user).select_related("hospital", "owner", "owner__rep")
    if query:
        customers = customers.filter(Q(pk__in=search(Customer, query)) | Q(hospital__in=search(Hospital, query)))  # K2
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
    form = CustomerForm(request.POST if request.method == "POST" else None, instance=customer, user=request.user)
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
        hospitals = hospitals.filter(pk__in=search(Hospital, query))  # K2: name, city, address
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


# --- WeCom OAuth2 login -------------------------------------------------------------------------


def _login_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """The ordinary login page with the reason WeCom login did not work (password login still works)."""
    return render(
        request, "registration/login.html", {"form": AuthenticationForm(request), "wecom_error": message}, status=status
    )


@require_GET
def wecom_login(request: HttpRequest) -> HttpResponse:
    if not wecom_oauth.configured():
        raise Http404("wecom login not configured")
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    state = secrets.token_urlsafe(24)
    request.session[WECOM_SESSION_KEY] = {"state": state, "next": next_url}
    redirect_uri = request.build_absolute_uri(reverse("wecom_callback"))
    return redirect(wecom_oauth.authorize_url(redirect_uri=redirect_uri, state=state))


@never_cache
@require_GET
def wecom_callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(WECOM_SESSION_KEY, None) or {}
    state, code = request.GET.get("state", ""), request.GET.get("code", "")
    if not pending.get("state") or not constant_time_compare(state, pending["state"]):
        return _login_error(request, gettext("企业微信登录已过期或来源不明，请重新点击「企业微信登录」。"), 400)
    if not code:
        return _login_error(request, gettext("企业微信没有授权登录。"), 400)
    try:
        userid = wecom_oauth.userid_for_code(code)
    except IntegrationError as exc:
        logger.warning("wecom login failed: %s", exc)
        return _login_error(
            request, gettext("企业微信登录失败（%(code)s），请稍后重试或使用账号密码登录。") % {"code": exc.code}, 502
        )
    users = list(User.objects.filter(rep__wecom_userid=userid, is_active=True)[:2])
    if len(users) != 1:
        logger.warning("wecom login: %s users match wecom userid %r", len(users), userid)
        return _login_error(
            request, gettext("企业微信账号「%(userid)s」没有唯一对应的 SalesOps 账号，请联系运营。") % {"userid": userid}, 403
        )
    login(request, users[0], backend="django.contrib.auth.backends.ModelBackend")
    return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)
