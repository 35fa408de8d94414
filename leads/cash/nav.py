from django.utils.translation import gettext_lazy as _

from salesops.access import is_manager
from salesops.context_processors import NavItem

from .access import is_finance


def items(user) -> list[NavItem]:
    entries = [
        NavItem(_("报价"), "cash:quote_list", order=50),
        NavItem(_("成交与回款"), "cash:deal_list", order=52),
        NavItem(_("逾期应收"), "cash:overdue", order=54),
    ]
    if is_manager(user):
        entries.append(NavItem(_("折扣审批"), "cash:approval_list", order=56, badge_url_name="cash:approval_badge"))
        entries.append(NavItem(_("回款对账"), "cash:review_queue", order=58, badge_url_name="cash:review_badge"))
    if is_finance(user):
        entries.append(NavItem(_("银行流水"), "cash:statement_list", order=59))
    return entries
