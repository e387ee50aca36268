"""The orders app's vocabulary that other apps name: where an order stands, what kind of place a location is.

Kept apart from the models so that other apps can name them without importing orders' models (an import-linter
contract forbids that: pyproject.toml).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LocationKind(models.TextChoices):
    STORE = "store", _("store")
    WAREHOUSE = "warehouse", _("warehouse")


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("placed")
    PAID = "paid", _("paid")
    READY = "ready", _("ready to collect")
    COLLECTED = "collected", _("collected")
    SHIPPED = "shipped", _("shipped")
    DELIVERED = "delivered", _("delivered")
    CANCELLED = "cancelled", _("cancelled")
    PARTIALLY_RETURNED = "partially_returned", _("partially returned")
    RETURNED = "returned", _("returned")
