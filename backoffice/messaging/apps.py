from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "backoffice.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        # anymail's tracking and inbound signals are received by the anymail adapter (connected on import).
        from .providers import anymail  # noqa: F401
