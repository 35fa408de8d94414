"""导出 Excel for the lead lists (U6): the same leads the list shows (scope, state, search), phone
numbers masked (P2), formula-looking text escaped. Kept apart from views.py so the list views stay
as they are."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from salesops.access import is_manager
from salesops.params import parse_int_param
from salesops.people import person_name
from salesops.privacy import mask_phone
from salesops.tables import date_range, xlsx_response

from .models import Lead, LeadStatus

OPEN_FOR_LIST = (LeadStatus.NEW, LeadStatus.ASSIGNED, LeadStatus.ACKNOWLEDGED, LeadStatus.CONTACTED)


@require_GET
@login_required
def lead_export(request: HttpRequest) -> HttpResponse:
    scope = request.GET.get("scope", "mine")
    if scope == "team":
        if not is_manager(request.user):
            raise PermissionDenied
        leads = Lead.objects.visible_to(request.user)
        rep_id = parse_int_param(request.GET, "rep")
        if rep_id is not None:
            leads = leads.filter(assignee_id=rep_id)
    else:
        leads = Lead.objects.filter(assignee=request.user)
    if request.GET.get("state", "open") == "open":
        leads = leads.filter(status__in=OPEN_FOR_LIST)
    query = request.GET.get("q", "").strip()
    if query:
        leads = leads.filter(Q(contact_name__icontains=query) | Q(hospital_name__icontains=query) | Q(phone__contains=query))
    leads, _dates = date_range(request, leads, "created_at")
    leads = leads.select_related("assignee", "hospital").order_by("-created_at", "-pk")
    headers = [_("进线时间"), _("联系人"), _("电话"), _("医院"), _("意向型号"), _("来源"), _("状态"), _("负责人"), _("备注")]
    rows = (
        [lead.created_at, lead.contact_name, mask_phone(lead.phone), lead.hospital_display, lead.product_model,
         lead.get_source_display(), lead.get_status_display(), person_name(lead.assignee, ""), lead.note]
        for lead in leads.iterator(chunk_size=500)
    )
    return xlsx_response(request, "leads", headers, rows)
