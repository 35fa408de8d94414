from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("线索")

    def ready(self) -> None:
        # Cache invalidation only (no workflow): the in-memory notification-channel settings. The
        # rep roster is not cached — it is read fresh at every decision (L11).
        from django.db.models.signals import post_delete, post_migrate, post_save

        from .assignment import invalidate_roster
        from .models import NotifyChannel

        post_save.connect(invalidate_roster, sender=NotifyChannel, dispatch_uid="leads-roster-save-NotifyChannel")
        post_delete.connect(invalidate_roster, sender=NotifyChannel, dispatch_uid="leads-roster-delete-NotifyChannel")
        # K2: a later migration that rebuilds a table on SQLite drops its search triggers; put them back.
        from salesops.search import ensure_after_migrate

        post_migrate.connect(ensure_after_migrate, sender=self, dispatch_uid="leads-search-index")
