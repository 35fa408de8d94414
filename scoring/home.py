"""Home-screen numbers for contribution points (U1): a rep's points this month; the review queue."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from salesops.access import role_of
from salesops.home import HomeCard
from salesops.models import Role

from .models import Contribution, ReviewStatus
from .services import reviews_visible_to


def cards(user, now: datetime) -> list[HomeCard]:
    role = role_of(user)
    if role == Role.REP:
        today = timezone.localdate(now)
        start = timezone.make_aware(datetime(today.year, today.month, 1))
        end = timezone.make_aware(datetime(today.year + (today.month == 12), today.month % 12 + 1, 1))
        points = Contribution.objects.filter(rep=user).payable().between(start, end).aggregate(total=Sum("points"))["total"]
        return [HomeCard(_("本月贡献值"), points or 0, "scoring:mine", hint=_("%(m)s 月累计") % {"m": today.month}, order=30)]
    if role in (Role.SUPERVISOR, Role.DIRECTOR):
        pending = reviews_visible_to(user).filter(status=ReviewStatus.PENDING).count()
        return [HomeCard(_("待审核的贡献值"), pending, "scoring:reviews", tone="warning" if pending else "success", order=30)]
    return []
