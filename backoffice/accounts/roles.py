"""The accounts' vocabulary: staff roles and the surfaces where personal data is read.

Kept apart from the models so that every app can name a role without importing another app's models (an
import-linter contract forbids that: pyproject.toml).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MARKETING = "marketing", _("Marketing")
    SUPPORT = "support", _("Customer service")
    STORE = "store", _("Store staff")
    INTEGRATION = "integration", _("Integration (system)")


class AccessSurface(models.TextChoices):
    """Where a member of staff (or a system) read a customer's personal data."""

    API_CUSTOMER = "api.customer", _("API: customer 360 view")
    API_TIMELINE = "api.timeline", _("API: timeline")
    API_SEARCH = "api.search", _("API: search result")
    API_LIST = "api.list", _("API: customer list")
    API_CONSENTS = "api.consents", _("API: consents")
    API_EXPORT = "api.export", _("API: GDPR export")
    API_CASE = "api.case", _("API: service case")
    STAFF_CUSTOMER = "staff.customer", _("Staff pages: customer")
    STAFF_SEARCH = "staff.search", _("Staff pages: search result")
    STAFF_CASE = "staff.case", _("Staff pages: service case")
    ADMIN_CUSTOMER = "admin.customer", _("Admin: customer")
    ADMIN_LIST = "admin.list", _("Admin: customer list")
