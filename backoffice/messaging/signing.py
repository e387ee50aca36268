"""HMAC signatures of webhooks, both ways: providers calling us (inbound messages, delivery status) and us calling
providers (the webhook backend).

Header `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of f"{t}." + body>`, with the channel's secret
(MESSAGING_WEBHOOK_SECRETS). The timestamp is inside the signed bytes and must be within
MESSAGING_WEBHOOK_TOLERANCE seconds (5 minutes) of our clock, so a captured request cannot be replayed later.
"""

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings

from .errors import SignatureInvalid

HEADER: Final = "X-Signature"
_META_KEY: Final = "HTTP_X_SIGNATURE"


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The X-Signature header value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def channel_secret(channel: str) -> bytes:
    """The channel's webhook secret. Raises SignatureInvalid when the channel has none (unknown or unconfigured)."""
    secret = settings.MESSAGING_WEBHOOK_SECRETS.get(channel) or ""
    if not secret:
        raise SignatureInvalid(f"no webhook secret is configured for channel {channel!r}")
    return secret.encode() if isinstance(secret, str) else secret


def sign_for(channel: str, body: bytes, *, timestamp: int | None = None) -> str:
    """Sign with the channel's own secret (what our webhook backend sends to the provider)."""
    return sign(channel_secret(channel), body, int(time.time()) if timestamp is None else timestamp)


def verify(channel: str, body: bytes, headers: Mapping[str, Any]) -> None:
    """Check a request's X-Signature against the channel's secret; raise SignatureInvalid saying why it fails.

    `headers` is `request.headers` (any case of `X-Signature`) or `request.META` (`HTTP_X_SIGNATURE`).
    """
    value = _header(headers)
    if not value:
        raise SignatureInvalid("the X-Signature header is missing")
    parts: dict[str, list[str]] = {}
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(val)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureInvalid("the X-Signature header has no valid t=<unix time>") from None
    candidates = parts.get("v1") or []
    if not candidates:
        raise SignatureInvalid("the X-Signature header has no v1=<signature>")
    # In integers: a t= of hundreds of digits is a bad signature, not an OverflowError as a float.
    if abs(int(time.time()) - timestamp) > settings.MESSAGING_WEBHOOK_TOLERANCE:
        raise SignatureInvalid("the signature timestamp is outside the tolerance")
    expected = sign(channel_secret(channel), body, timestamp).split("v1=", 1)[1]
    # Several v1 values are accepted so a provider can sign with the old and the new secret while rotating.
    # As bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, not a mismatch).
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates):
        raise SignatureInvalid("the signature does not match")


def _header(headers: Mapping[str, Any]) -> str:
    for key in (HEADER, HEADER.lower(), _META_KEY):
        value = headers.get(key)
        if value:
            return str(value)
    return ""
