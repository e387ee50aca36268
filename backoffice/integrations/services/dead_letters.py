"""Personal data in the dead-letter list: who a dead-lettered body names, and dropping bodies that must go.

A dead letter keeps a shop's delivery as received (customer names, emails, phones, addresses), encrypted, outside
the log and its crypto-shredding. So a body is kept only while it may still be needed:
- once a replay applies it, the body is dropped (what it carried is in the log now, sealed per customer);
- when a customer it names is erased, it is dropped at once, in the erasure's transaction
  (CUSTOMERS_ERASURE_HOOKS calls `dead_letters_forget`), found by the keyed digests of its identifiers
  (DeadLetterSubject), never by decrypting every body;
- after INTEGRATIONS_DEAD_LETTER_RETENTION_DAYS it is dropped by beat (`dead_letters_expire`), which also covers
  people who never became customers.
A dropped letter keeps its row (platform, topic, delivery id, code, dates): the delivery's fate stays visible.
"""

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from backoffice.crypto import identifier_digest
from customers.identifiers import InvalidIdentifier, normalise

from ..models import DeadLetter, DeadLetterStatus, DeadLetterSubject

log = logging.getLogger(__name__)

# JSON keys under which Shopify and WooCommerce payloads carry an email or a phone, at any depth (the order's own,
# its customer's, billing and shipping addresses, WooCommerce's billing object...).
_EMAIL_KEYS = frozenset({"email", "contact_email", "customer_email", "billing_email"})
_PHONE_KEYS = frozenset({"phone", "customer_phone", "billing_phone", "shipping_phone"})
_DROPPED = frozenset({DeadLetterStatus.ERASED, DeadLetterStatus.EXPIRED})


def _strings_under(value: object, names: frozenset[str]) -> Iterator[str]:
    """Every string held under one of `names`, at any depth. Iterative: the body may be deeply nested."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(child, str) and isinstance(key, str) and key.lower() in names:
                    yield child
                elif isinstance(child, dict | list):
                    pending.append(child)
        elif isinstance(item, list):
            pending.extend(child for child in item if isinstance(child, dict | list))


def subject_digests(body: bytes) -> set[str]:
    """The digests of the emails and phones a delivery's body names (none when it is not JSON)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return set()
    digests = set()
    for kind, names in (("email", _EMAIL_KEYS), ("phone", _PHONE_KEYS)):
        for raw in _strings_under(payload, names):
            try:
                digests.add(identifier_digest(f"{kind}:{normalise(kind, raw)}"))
            except InvalidIdentifier:
                continue
    return digests


def dead_letter_subjects_record(*, dead_letter: DeadLetter, body: bytes, identifier_keys: Iterable[str] = ()) -> None:
    """In the dead letter's own transaction. `identifier_keys`: the people the body names otherwise than by an email
    or phone ("external:<system>:<id>", "anonymous_id:<id>": a tracking message's userId and anonymousId)."""
    digests = subject_digests(body) | {identifier_digest(key) for key in identifier_keys}
    DeadLetterSubject.objects.bulk_create(
        [DeadLetterSubject(dead_letter=dead_letter, digest=digest) for digest in sorted(digests)]
    )


def _drop(letters: QuerySet[DeadLetter], status: str) -> int:
    ids = list(letters.exclude(status__in=_DROPPED).values_list("id", flat=True))
    if not ids:
        return 0
    DeadLetter.objects.filter(id__in=ids).update(body_encrypted="", reason="", status=status)
    DeadLetterSubject.objects.filter(dead_letter_id__in=ids).delete()
    return len(ids)


def dead_letter_body_drop(*, dead_letter: DeadLetter) -> None:
    """After a replay applied it: the body is not needed any more (its status stays `replayed`)."""
    DeadLetter.objects.filter(id=dead_letter.id).update(body_encrypted="")
    DeadLetterSubject.objects.filter(dead_letter_id=dead_letter.id).delete()


def dead_letters_forget(*, identifier_keys: Iterable[str], **_context: object) -> int:
    """Erasure hook (CUSTOMERS_ERASURE_HOOKS): drop every dead-lettered body naming one of these identifiers.
    Runs inside the erasure's transaction, so both commit or neither. Returns how many were dropped."""
    digests = [identifier_digest(key) for key in identifier_keys]
    if not digests:
        return 0
    letters = DeadLetter.objects.filter(subjects__digest__in=digests).distinct()
    dropped = _drop(letters, DeadLetterStatus.ERASED)
    if dropped:
        log.info("erasure dropped %d dead-lettered bodies", dropped)
    return dropped


def dead_letters_expire(*, now: datetime | None = None) -> int:
    """Drop the bodies of dead letters older than the retention period (beat): a pending one becomes `expired`, a
    replayed one keeps its status. Returns how many bodies were dropped."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.INTEGRATIONS_DEAD_LETTER_RETENTION_DAYS)
    with transaction.atomic():
        old = DeadLetter.objects.filter(received_at__lt=cutoff).exclude(body_encrypted="")
        replayed = list(old.filter(status=DeadLetterStatus.REPLAYED).values_list("id", flat=True))
        DeadLetter.objects.filter(id__in=replayed).update(body_encrypted="")
        DeadLetterSubject.objects.filter(dead_letter_id__in=replayed).delete()
        dropped = len(replayed) + _drop(old.filter(status=DeadLetterStatus.PENDING), DeadLetterStatus.EXPIRED)
    if dropped:
        log.info("dropped %d dead-lettered bodies past their retention", dropped)
    return dropped
