from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .access import role_of
from .context_processors import NavItem
from .models import Role


def items(user) -> list[NavItem]:
    entries = [
        NavItem(_("首页"), "home", order=0),
        NavItem(pgettext_lazy("list", "客户"), "customers:list", order=40),
        NavItem(_("医院"), "hospitals:list", order=45),
    ]
    if role_of(user) in (Role.SUPERVISOR, Role.DIRECTOR, Role.OPS):
        entries.append(NavItem(_("导入"), "imports:list", order=90))
    return entries
