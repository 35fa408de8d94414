"""Home-screen numbers for the director (U1): the three KPIs this week and the open exceptions."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from salesops.access import role_of, sees_everything
from salesops.home import HomeCard
from salesops.models import Role

from .access import interventions_visible_to
from .kpis import Scope, measure
from .models import Health, InterventionStatus, Kpi, Threshold
from .periods import Period
from .templatetags.dashboards import kpi_number

TONE = {Health.HEALTHY: "success", Health.WATCH: "warning", Health.ALERT: "danger"}


def cards(user, now: datetime) -> list[HomeCard]:
    role = role_of(user)
    if role not in (Role.SUPERVISOR, Role.DIRECTOR, Role.OPS):
        return []
    found = []
    if sees_everything(user):
        period = Period.containing("week", timezone.localdate(now))
        thresholds = Threshold.all_by_kpi()
        for order, kpi in enumerate(Kpi.values):
            cell = measure(kpi, [period.span], Scope.company(), threshold=thresholds[kpi])[None][0]
            health = thresholds[kpi].health(cell.value)
            found.append(HomeCard(str(Kpi(kpi).label), f"{kpi_number(cell.value)} {thresholds[kpi].unit}".strip(),
                                  "dashboards:kpis", hint=_("本周 · 样本 %(n)s") % {"n": cell.n}, tone=TONE.get(health, ""),
                                  order=1 + order))
    exceptions = interventions_visible_to(user).filter(status=InterventionStatus.OPEN).count()
    found.append(HomeCard(_("待处理的异常"), exceptions, "dashboards:interventions", hint=_("干预任务"),
                          tone="danger" if exceptions else "success", order=40))
    return found
