"""Secrets at rest: shop secrets entered in the admin and dead-lettered bodies, encrypted with Fernet.

The key is INTEGRATIONS_ENCRYPTION_KEY (a Fernet key) or, when unset, one derived from SECRET_KEY, so a fresh
install works; production sets its own and keeps it apart from the database backups.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt"]


def _fernet() -> Fernet:
    key = settings.INTEGRATIONS_ENCRYPTION_KEY
    if not key:
        digest = hashlib.sha256(b"backoffice.integrations:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt(value: bytes) -> str:
    return _fernet().encrypt(value).decode()


def decrypt(token: str) -> bytes:
    return _fernet().decrypt(token.encode())
