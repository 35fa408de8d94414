"""Home-screen numbers for visits (U1): a rep's visits today; a manager's flagged evidence."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from salesops.access import is_manager, role_of
from salesops.home import HomeCard, SearchHit

from .models import Evidence, TaskStatus, VisitTask

FLAGGED_WINDOW = timedelta(days=7)


def cards(user, now: datetime) -> list[HomeCard]:
    if role_of(user) is None:
        return []
    if is_manager(user):
        flagged = Evidence.objects.filter(
            task__in=VisitTask.objects.visible_to(user), flagged=True, uploaded_at__gte=now - FLAGGED_WINDOW
        ).count()
        return [HomeCard(_("有警示的拜访证据"), flagged, "visits:task_list", query="?flagged=1", hint=_("近 7 天"),
                         tone="warning" if flagged else "success", order=20)]
    today = timezone.localdate(now)
    counts = VisitTask.objects.filter(rep=user, due_date=today).exclude(status=TaskStatus.CANCELLED).aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(status=TaskStatus.COMPLETED))
    )
    left = counts["total"] - counts["done"]
    return [HomeCard(_("今日拜访"), f"{counts['done']}/{counts['total']}", "visits:workbench",
                     hint=_("还有 %(n)s 个待完成") % {"n": left} if left else _("今日已完成"),
                     tone="warning" if left else "success", order=20)]


def search(user, query: str, limit: int) -> list[SearchHit]:
    tasks = (
        VisitTask.objects.visible_to(user)
        .filter(customer__name__icontains=query)
        .select_related("customer")
        .order_by("-due_date", "-pk")[:limit]
    )
    return [
        SearchHit(_("拜访"), task.customer.name, reverse("visits:task_detail", args=[task.pk]),
                  f"{task.due_date:%Y-%m-%d} · {task.get_status_display()}")
        for task in tasks
    ]
