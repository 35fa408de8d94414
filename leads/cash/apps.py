from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CashConfig(AppConfig):
    """Lead to cash: quotes, deals, receivables, payments, bank statements. A sub-app of `leads`
    with its own label, so its models and migrations evolve independently of lead intake."""

    name = "leads.cash"
    label = "cash"
    verbose_name = _("报价与回款")
