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
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_http_methods

from .access import get_customer_for_user, is_manager, role_of
from .forms import CustomerForm
from .home import home_cards, search_all
from .people import person_name
from .privacy import mask_phone
from .tables import page_of, sort, wants_export, xlsx_response
from .integrations import IntegrationError, wecom_oauth
from . import privacy
from .models import AccessAction, Activity, Customer, Hospital, HospitalGrade
from .search import search as text_search
from .services import customer_update

logger = logging.getLogger(__name__)
User = get_user_model()
WECOM_SESSION_KEY = "wecom_oauth"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its numbers for today (U1), then its recent actions."""
    recent = Activity.objects.filter(rep=request.user).select_related("customer")[:5]
    cards = home_cards(request.user, timezone.now())
    return render(request, "salesops/home.html", {"cards": cards, "recent_activities": recent, "role": role_of(request.user)})


SEARCH_MIN_LENGTH = 1
SEARCH_MAX_LENGTH = 50


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """The shell's search box (U6): customers, hospitals, leads and visits the user may see."""
    query = request.GET.get("q", "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
    hits = search_all(request.user, query) if len(query) >= SEARCH_MIN_LENGTH else []
    return render(request, "salesops/search.html", {"query": query, "hits": hits})


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    customers = Customer.objects.visible_to(request.user).select_related("hospital", "owner", "owner__rep")
    if query:
        customers = customers.filter(Q(pk__in=text_search(Customer, query)) | Q(hospital__in=text_search(Hospital, query)))  # K2
    customers, order = sort(request, customers, CUSTOMER_SORTS, default="hospital")
    if wants_export(request):
        headers = [gettext("客户名称"), gettext("医院"), gettext("医院等级"), gettext("科室"), gettext("负责人"), gettext("电话")]
        rows = (
            [c.name, c.hospital.name, c.hospital.get_grade_display(), c.department.name if c.department else "",
             person_name(c.owner, ""), mask_phone(c.phone)]
            for c in customers.select_related("department").iterator(chunk_size=500)
        )
        return xlsx_response(request, "customers", headers, rows)
    page = page_of(request, customers)
    return render(request, "salesops/customer_list.html", {"page": page, "query": query, "sort": order})


CUSTOMER_SORTS = {"name": "name", "hospital": ("hospital__name", "name"), "owner": ("owner__last_name", "owner__first_name", "owner__username")}


def _customer_context(request: HttpRequest, customer: Customer, *, revealed: bool = False) -> dict:
    """P2: numbers in full for the customer's owner and the policy's roles, else masked."""
    contacts = list(customer.contacts.all())
    for contact in contacts:
        contact.phone_view = privacy.phone_view(request.user, contact.phone, customer.owner_id, revealed=revealed)
        contact.phone_id = f"contact-phone-{contact.pk}"
    return {
        "customer": customer,
        "contacts": contacts,
        "phone": privacy.phone_view(request.user, customer.phone, customer.owner_id, revealed=revealed),
        "activities": customer.activities.select_related("rep")[:50],
        "can_edit": is_manager(request.user) or customer.owner_id == request.user.pk,
    }


@never_cache
@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_customer_for_user(request, pk)
    privacy.log_access(request, customer, AccessAction.VIEW)  # P3
    return render(request, "salesops/customer_detail.html", _customer_context(request, customer))


@never_cache
@require_POST
@login_required
def customer_reveal_phone(request: HttpRequest, pk: int) -> HttpResponse:
    """P2 显示完整号码: a deliberate POST, logged (P3). htmx asks for one number (HX-Target);
    without JS the page comes back with this customer's numbers in full."""
    customer = get_customer_for_user(request, pk)
    target = request.headers.get("HX-Target", "") if request.htmx else ""
    contacts = {f"contact-phone-{contact.pk}": contact for contact in customer.contacts.exclude(phone="")}
    if target in contacts:
        contact = contacts[target]
        privacy.log_access(request, contact, AccessAction.REVEAL)
        phone = privacy.phone_view(request.user, contact.phone, customer.owner_id, revealed=True)
        return render(request, "salesops/_phone.html", {"phone": phone, "phone_id": target})
    privacy.log_access(request, customer, AccessAction.REVEAL)
    if target == "customer-phone":
        phone = privacy.phone_view(request.user, customer.phone, customer.owner_id, revealed=True)
        return render(request, "salesops/_phone.html", {"phone": phone, "phone_id": target})
    for contact in contacts.values():
        privacy.log_access(request, contact, AccessAction.REVEAL)
    return render(request, "salesops/customer_detail.html", _customer_context(request, customer, revealed=True))


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
        hospitals = hospitals.filter(pk__in=text_search(Hospital, query))  # K2: name, city, address
    if grade in HospitalGrade.values:
        hospitals = hospitals.filter(grade=grade)
    hospitals, order = sort(request, hospitals, HOSPITAL_SORTS, default="city")
    if wants_export(request):
        headers = [gettext("医院"), gettext("等级"), gettext("城市"), gettext("地址"), gettext("科室数")]
        rows = ([h.name, h.get_grade_display(), h.city, h.address, h.department_count] for h in hospitals)
        return xlsx_response(request, "hospitals", headers, rows)
    page = page_of(request, hospitals)
    return render(
        request,
        "salesops/hospital_list.html",
        {"page": page, "query": query, "grade": grade, "grades": HospitalGrade.choices, "sort": order},
    )


HOSPITAL_SORTS = {"name": "name", "grade": ("grade", "name"), "city": ("city", "name"), "departments": ("department_count", "name")}


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
