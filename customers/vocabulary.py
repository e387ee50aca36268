"""The customers app's vocabulary that other apps name: where a service case stands.

Kept apart from the models so that other apps can name it without importing customers' models (an import-linter
contract forbids that: pyproject.toml).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    OPEN = "open", _("open")
    RESOLVED = "resolved", _("resolved")
