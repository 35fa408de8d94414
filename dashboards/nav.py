from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from salesops.access import role_of
from salesops.context_processors import NavItem
from salesops.models import Role


def items(user) -> list[NavItem]:
    role = role_of(user)
    if role is None:
        return []
    entries = [NavItem(_("过程健康"), "dashboards:kpis", order=81)]
    if role != Role.REP:  # U1: the wall-TV board is unreadable at 390 px; reps are not sent there
        entries.insert(0, NavItem(_("今日战报"), "dashboards:board", order=80))
    if role in (Role.SUPERVISOR, Role.DIRECTOR, Role.OPS):
        entries.append(NavItem(pgettext_lazy("list", "干预任务"), "dashboards:interventions", order=82, badge_url_name="dashboards:intervention_badge"))
        entries.append(NavItem(_("日报周报"), "dashboards:reports", order=83))
    return entries
