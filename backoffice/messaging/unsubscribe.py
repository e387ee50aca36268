"""One-click unsubscribe links of marketing mail (RFC 8058): an opaque, signed token naming the message."""

import uuid
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "messaging.unsubscribe"


def token_for(message_id: str) -> str:
    return signing.dumps(str(message_id), salt=_SALT, compress=False)


def message_id_from(token: str) -> uuid.UUID | None:
    """The message a token names, or None when it was not signed by us (no expiry: a link in an old mail works)."""
    try:
        return uuid.UUID(signing.loads(token, salt=_SALT))
    except (signing.BadSignature, ValueError, TypeError):
        return None


def one_click_url(message_id: str) -> str:
    base = settings.MESSAGING_PUBLIC_URL.rstrip("/")
    if not base:
        return ""
    return base + _path_before_token() + token_for(message_id)


@lru_cache(maxsize=1)
def _path_before_token() -> str:
    # reverse() once: it cost as much as the rest of building a marketing mail.
    return reverse("api-v1:provider-email-unsubscribe", kwargs={"token": "T"}).removesuffix("T")
