from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesOpsConfig(AppConfig):
    name = "salesops"
    verbose_name = _("基础数据")
