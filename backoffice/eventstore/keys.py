"""Per-customer data keys for crypto-shredding (DESIGN.md section 3, rule 8).

Personal fields of an event are sealed together with AES-256-GCM under the key of the customer the event concerns,
with the event id as associated data (a sealed blob cannot be moved to another event). Data keys are stored
wrapped by the master key (EVENTSTORE_MASTER_KEY). Destroying a customer's key makes every personal field of every
event about them unreadable for good; the events themselves, their amounts, channels and times stay.
"""

import base64
import json
import os
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from .backends import recorder
from .locks import appends_locked_out
from .models import CustomerKey

ERASED = "[erased]"
SEALED_FIELD = "_personal"
_NONCE_BYTES = 12


@cache
def _master() -> AESGCM:
    return AESGCM(_master_bytes())


@cache
def _master_bytes() -> bytes:
    configured = settings.EVENTSTORE_MASTER_KEY
    if configured:
        raw = base64.b64decode(configured)
        if len(raw) != 32:
            raise ImproperlyConfigured("EVENTSTORE_MASTER_KEY must be base64 of exactly 32 bytes")
    else:
        # Without a configured master key, derive one from SECRET_KEY (itself required outside DEBUG), so a
        # development database stays readable across restarts. Production sets its own: see docs/operations.md.
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"eventstore-master-key").derive(
            settings.SECRET_KEY.encode()
        )
    return raw


@cache
def digest_key() -> bytes:
    """The key of event digests: a plain hash of an event would let anyone with a dump confirm a guessed email
    or phone of an erased customer; a keyed one needs this secret too."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"eventstore-digest-key").derive(_master_bytes())


def _wrap(data_key: bytes, customer_id: uuid.UUID) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _master().encrypt(nonce, data_key, customer_id.bytes)


def _unwrap(wrapped: bytes, customer_id: uuid.UUID) -> bytes:
    wrapped = bytes(wrapped)
    return _master().decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], customer_id.bytes)


class Keyring:
    """The usable keys of a set of customers, loaded in one query. A destroyed key is absent."""

    def __init__(self, keys: dict[uuid.UUID, AESGCM], destroyed: set[uuid.UUID]):
        self._keys = keys
        self._destroyed = destroyed

    def seal(self, customer_id: uuid.UUID, event_id: uuid.UUID, personal: dict[str, Any]) -> str:
        key = self._keys.get(customer_id)
        if key is None:
            raise KeyDestroyed(customer_id)
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(personal, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.b64encode(nonce + key.encrypt(nonce, plaintext, event_id.bytes)).decode()

    def open(self, customer_id: uuid.UUID, event_id: uuid.UUID, sealed: str) -> dict[str, Any] | None:
        """The personal fields, or None when the customer's key was destroyed."""
        key = self._keys.get(customer_id)
        if key is None:
            return None
        blob = base64.b64decode(sealed)
        fields: dict[str, Any] = json.loads(key.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], event_id.bytes))
        return fields


class KeyDestroyed(Exception):
    """New personal data about an erased customer cannot be stored: their key is gone for good."""

    def __init__(self, customer_id: uuid.UUID):
        self.customer_id = customer_id
        super().__init__(f"customer {customer_id} was erased")


def keyring_for(customer_ids: Iterable[uuid.UUID], *, create: bool) -> Keyring:
    wanted = set(customer_ids)
    if not wanted:
        return Keyring({}, set())
    rows = dict(_stored_keys(wanted))
    keys, destroyed = {}, set()
    for cid, wrapped in rows.items():
        if wrapped is None:
            destroyed.add(cid)
        else:
            keys[cid] = AESGCM(_unwrap(wrapped, cid))
    if create:
        # Keys are created by appends and destroyed by erasures, which have the log to themselves
        # (locks.appends_locked_out): no key is destroyed meanwhile. Two appends may create one customer's key at once
        # (PostgreSQL): the first insert wins, and the other seals with the winner's key.
        raw_keys = {cid: AESGCM.generate_key(256) for cid in wanted - rows.keys()}
        written = (
            recorder().insert_keys([(cid, _wrap(raw, cid)) for cid, raw in raw_keys.items()]) if raw_keys else set()
        )
        keys.update({cid: AESGCM(raw_keys[cid]) for cid in written})
        for cid, wrapped in _stored_keys(raw_keys.keys() - written):
            if wrapped is None:
                destroyed.add(cid)
            else:
                keys[cid] = AESGCM(_unwrap(wrapped, cid))
    return Keyring(keys, destroyed)


def _stored_keys(customer_ids: set[uuid.UUID]) -> list[tuple[uuid.UUID, bytes | None]]:
    """(customer id, wrapped key or None when destroyed) of the customers that have a key row. Read on every append
    with personal data, for up to a batch's worth of customers."""
    return recorder().stored_keys(set(customer_ids)) if customer_ids else []


@transaction.atomic
def customer_key_destroy(*, customer_id: uuid.UUID) -> bool:
    """Destroy the customer's data key. Irreversible. Returns False when there was no live key."""
    # No append runs meanwhile (appends create keys): a key is never created and destroyed at once.
    appends_locked_out()
    updated = CustomerKey.objects.filter(customer_id=customer_id, wrapped_key__isnull=False).update(
        wrapped_key=None, destroyed_at=timezone.now()
    )
    if not updated:
        # Keep a tombstone so personal data that arrives later for this customer is refused, not sealed anew.
        _, created = CustomerKey.objects.get_or_create(
            customer_id=customer_id, defaults={"wrapped_key": None, "destroyed_at": timezone.now()}
        )
        return False
    return True


def is_key_destroyed(customer_id: uuid.UUID) -> bool:
    return CustomerKey.objects.filter(customer_id=customer_id, wrapped_key__isnull=True).exists()
