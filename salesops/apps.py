from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesOpsConfig(AppConfig):
    name = "salesops"
    verbose_name = _("基础数据")

    def ready(self) -> None:
        from . import user_audit  # noqa: F401 - connects the user-history labels (R9)
        from .audit import localise_history_models

        localise_history_models()  # U8: "客户（历史）", local times — not "historical 客户 as of <UTC>"
