"""The customers app's vocabulary that other apps name: how a customer is known, where a service case stands.

Kept apart from the models so that other apps can name it without importing customers' models (an import-linter
contract forbids that: pyproject.toml).
"""

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentifierKind(StrEnum):
    """How a customer is known: one kind per identifier (the event schema's `Literal` states the same values, in
    this order; tests/eventstore/test_vocabulary.py holds them equal). `key` of an identifier is "kind:value"."""

    EMAIL = "email"
    PHONE = "phone"
    LOYALTY_CARD = "loyalty_card"
    EXTERNAL = "external"
    FACEBOOK_ID = "facebook_id"
    INSTAGRAM_ID = "instagram_id"
    # Names a browser or an app install, not a person: it never merges two known customers.
    ANONYMOUS_ID = "anonymous_id"


class CaseStatus(models.TextChoices):
    OPEN = "open", _("open")
    RESOLVED = "resolved", _("resolved")
