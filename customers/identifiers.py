"""Normalising customer identifiers, so one person is one key whatever channel spelt it.

Emails are trimmed and lower-cased; phones become E.164 (default region Spain: `600 111 222` is `+34600111222`).
"""

import re

import phonenumbers
from django.conf import settings

from .vocabulary import IdentifierKind

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidIdentifier(ValueError):
    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidIdentifier(IdentifierKind.EMAIL, "is not a valid email address")
    return email


def normalise_phone(value: str) -> str:
    region = getattr(settings, "PHONE_DEFAULT_REGION", "ES")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier(IdentifierKind.PHONE, "is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(IdentifierKind.PHONE, "is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_token(value: str) -> str:
    token = value.strip()
    if not token or len(token) > 200:
        raise InvalidIdentifier("id", "must be 1 to 200 characters")
    return token


def normalise(kind: str, value: str) -> str:
    if kind == IdentifierKind.EMAIL:
        return normalise_email(value)
    if kind == IdentifierKind.PHONE:
        return normalise_phone(value)
    return normalise_token(value)
