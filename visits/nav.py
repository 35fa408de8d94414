from django.utils.translation import gettext_lazy as _

from salesops.access import is_manager
from salesops.context_processors import NavItem


def items(user) -> list[NavItem]:
    entries = [NavItem(_("工作台"), "visits:workbench", order=10)]
    if is_manager(user):
        entries += [NavItem(_("团队拜访"), "visits:task_list", order=45), NavItem(_("任务包"), "visits:template_list", order=46)]
    else:
        entries.append(NavItem(_("我的拜访"), "visits:task_list", order=45))
    return entries
