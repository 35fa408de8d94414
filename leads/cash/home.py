"""Home-screen numbers for quotes (U1): discount approvals waiting for this manager."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _

from salesops.access import is_manager
from salesops.home import HomeCard

from .access import approvals_to_decide


def cards(user, now: datetime) -> list[HomeCard]:
    if not is_manager(user):
        return []
    pending = approvals_to_decide(user).count()
    return [HomeCard(_("待审批的折扣"), pending, "cash:approval_list", tone="warning" if pending else "success", order=35)]
