from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("线索")

    def ready(self) -> None:
        # Cache invalidation only (no workflow): the engine's in-memory roster and channel settings.
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from salesops.models import Rep

        from .assignment import invalidate_roster
        from .models import NotifyChannel

        for model in (Rep, get_user_model(), NotifyChannel):
            post_save.connect(invalidate_roster, sender=model, dispatch_uid=f"leads-roster-save-{model.__name__}")
            post_delete.connect(invalidate_roster, sender=model, dispatch_uid=f"leads-roster-delete-{model.__name__}")
        m2m_changed.connect(invalidate_roster, sender=Rep.product_lines.through, dispatch_uid="leads-roster-lines")
