from django.utils.translation import gettext_lazy as _

from salesops.access import is_manager, role_of
from salesops.models import Role
from salesops.context_processors import NavItem


def items(user) -> list[NavItem]:
    entries = [
        NavItem(_("我的贡献值"), "scoring:mine", order=60),
        NavItem(_("协作看板"), "scoring:board", order=61),
        NavItem(_("奖金分配"), "scoring:splits" if is_manager(user) else "scoring:statement", order=62),
    ]
    if is_manager(user):
        entries.append(NavItem(_("团队贡献值"), "scoring:team", order=63))
    if role_of(user) in (Role.SUPERVISOR, Role.DIRECTOR):
        entries.append(NavItem(_("证据审核"), "scoring:reviews", order=64))
    return entries
