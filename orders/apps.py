from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders and stock")

    def ready(self) -> None:
        from .api import problems  # noqa: F401 - registers the problem types of the orders refusals
