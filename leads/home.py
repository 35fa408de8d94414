"""Home-screen numbers and global-search hits for leads (U1, U6); see salesops/home.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from salesops.access import role_of
from salesops.home import HomeCard, SearchHit
from salesops.models import Role
from salesops.search import search as text_search

from .models import AssignmentRules, Lead, LeadStatus

WAITING = Q(status=LeadStatus.ASSIGNED, acknowledged_at__isnull=True)


def cards(user, now: datetime) -> list[HomeCard]:
    role = role_of(user)
    if role is None:
        return []
    minutes = AssignmentRules.live().ack_timeout_minutes
    if role == Role.REP:
        mine = Lead.objects.filter(assignee=user).open().aggregate(
            open=Count("pk"), waiting=Count("pk", filter=WAITING), oldest=Min("assigned_at", filter=WAITING)
        )
        deadline = mine["oldest"] + timedelta(minutes=minutes) if mine["oldest"] else None
        hint = _("待接收 %(n)s 条") % {"n": mine["waiting"]} if mine["waiting"] else _("都已接收")
        tone = "danger" if deadline and deadline <= now else ("warning" if deadline else "")
        return [HomeCard(_("我的待办线索"), mine["open"], "leads:mine", hint=hint, tone=tone, order=10, countdown_to=deadline)]
    overdue = Lead.objects.visible_to(user).overdue(now, minutes).count()
    return [
        HomeCard(_("超时未接收的线索"), overdue, "leads:team", hint=_("超过 %(m)s 分钟未接收") % {"m": minutes},
                 tone="danger" if overdue else "success", order=10)
    ]



def search(user, query: str, limit: int) -> list[SearchHit]:
    leads = (
        Lead.objects.visible_to(user)
        .filter(pk__in=text_search(Lead, query))  # K2: the one search (name, hospital, phone), index-backed
        .order_by("-created_at")[:limit]
    )
    return [
        SearchHit(_("线索"), f"{lead.contact_name} · {lead.product_model}", reverse("leads:detail", args=[lead.pk]),
                  f"{lead.hospital_display} · {lead.get_status_display()}")
        for lead in leads
    ]
