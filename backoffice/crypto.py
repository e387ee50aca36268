"""Secrets at rest outside the log: shop secrets entered in the admin, dead-lettered shop deliveries and provider
callbacks kept for a retry, encrypted with Fernet. (Personal fields in events are sealed per customer instead:
backoffice.eventstore.keys.)

The key is INTEGRATIONS_ENCRYPTION_KEY (a Fernet key) or, when unset, one derived from SECRET_KEY, so a fresh
install works; production sets its own and keeps it apart from the database backups.
"""

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "identifier_digest"]


def _fernet() -> Fernet:
    return _fernet_for(settings.INTEGRATIONS_ENCRYPTION_KEY, settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)
def _fernet_for(key: str, secret_key: str) -> Fernet:
    """One Fernet per key, made once (every received Twilio callback is sealed; a key changed in the settings, as
    tests do, gets its own)."""
    if not key:
        digest = hashlib.sha256(b"backoffice.integrations:" + secret_key.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt(value: bytes) -> str:
    return _fernet().encrypt(value).decode()


def decrypt(token: str) -> bytes:
    return _fernet().decrypt(token.encode())


def identifier_digest(identifier_key: str) -> str:
    """The keyed digest of a customer identifier key ("email:ana@example.com", "phone:+34600111222"), kept beside
    an encrypted copy so an erasure can find the copies naming a person: without the store's secret, a dump of
    the table cannot confirm a guessed address."""
    from backoffice.eventstore.keys import digest_key  # the store's secret, derived from its master key

    return hmac.new(digest_key(), b"dead-letter-subject:" + identifier_key.encode(), hashlib.sha256).hexdigest()
