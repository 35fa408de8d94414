from django.utils.translation import gettext_lazy as _

from salesops.access import role_of
from salesops.context_processors import NavItem
from salesops.models import Role


def items(user) -> list[NavItem]:
    role = role_of(user)
    entries = [NavItem(_("消息"), "leads:inbox", order=5, badge_url_name="leads:inbox_badge")]
    if role == Role.REP:
        entries.append(NavItem(_("我的线索"), "leads:mine", order=10))
    if role in (Role.SUPERVISOR, Role.DIRECTOR, Role.OPS):
        entries.append(NavItem(_("团队线索"), "leads:team", order=11))
        entries.append(NavItem(_("分配规则"), "leads:rules", order=85))
    if role in (Role.REP, Role.SUPERVISOR):
        entries.append(NavItem(_("微信录入"), "leads:paste", order=12))
    return entries
