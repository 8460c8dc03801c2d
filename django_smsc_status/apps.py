from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SmscStatusConfig(AppConfig):
    name = "django_smsc_status"
    verbose_name = _("SMSC delivery status")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
