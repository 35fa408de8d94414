from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitsConfig(AppConfig):
    name = "visits"
    verbose_name = _("拜访")

    def ready(self) -> None:
        # HEIC/HEIF photos (iPhones) open through Pillow once the plugin is registered.
        import pillow_heif

        pillow_heif.register_heif_opener()
