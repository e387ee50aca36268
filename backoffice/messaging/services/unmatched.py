"""Provider callbacks about no message we know (yet): kept, tried again, and dropped when they never match.

A provider can call back before our own record of the send is committed (it answered the send, the callback
overtook our commit), and a provider account may be shared with another system whose mail and SMS we never sent.
The provider doors (anymail, Twilio, Meta) acknowledge such a callback, as the providers expect a 2xx, and keep it
here (`message_statuses_record(keep_unmatched=True)`); beat tries the due ones again with backoff
(`unmatched_callbacks_retry`), recording each exactly once through the same ledger as any callback when its message
appears. After MESSAGING_UNMATCHED_CALLBACK_RETENTION_HOURS a callback expires and its content (address, provider
reason: personal) is dropped; an erasure drops it at once (`unmatched_callbacks_forget`, CUSTOMERS_ERASURE_HOOKS).
The generic signed webhook (a public API with its own 404) keeps nothing: its caller sees the answer and retries.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from backoffice import crypto

from ..models import UnmatchedCallback, UnmatchedState
from ..policy import recipient_policy

if TYPE_CHECKING:
    from .status import StatusCallbackData

logger = logging.getLogger(__name__)

FIRST_RETRY: Final = timedelta(seconds=30)
LONGEST_WAIT: Final = timedelta(hours=1)


def _address_key(channel: str, address: str) -> str:
    """The customer identifier key an address would have, as the recipient policy (customers) normalises it: "" if
    none. Its digest is what an erasure finds the kept callback by."""
    address = address.strip()
    return recipient_policy().identifier_key(channel, address) if address else ""


def _backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * int(2 ** max(attempts - 1, 0)), LONGEST_WAIT)


def unmatched_callbacks_keep(*, callbacks: "list[StatusCallbackData]", source: str, now: datetime) -> None:
    """In the caller's transaction: keep these callbacks for a retry (a resend of one already kept adds nothing)."""
    rows = []
    for callback in callbacks:
        key = _address_key(callback.channel, callback.address)
        rows.append(
            UnmatchedCallback(
                digest=callback.digest,
                source=source[:40],
                channel=callback.channel,
                provider_message_id=callback.provider_message_id[:300],
                status=callback.status,
                data_encrypted=callback.sealed(),
                address_digest=crypto.identifier_digest(key) if key else "",
                received_at=now,
                next_attempt_at=now + FIRST_RETRY,
            )
        )
    UnmatchedCallback.objects.bulk_create(rows, ignore_conflicts=True)


def _drop(rows: "QuerySet[UnmatchedCallback]", state: str, now: datetime) -> int:
    dropped: int = rows.exclude(state__in=[UnmatchedState.APPLIED, UnmatchedState.EXPIRED]).update(
        state=state, data_encrypted="", address_digest="", applied_at=now if state == UnmatchedState.APPLIED else None
    )
    return dropped


def unmatched_callbacks_retry(
    *, now: datetime | None = None, limit: int = 500, due_only: bool = True
) -> dict[str, int]:
    """Try the due pending callbacks again (beat, every minute; the admin's "try again now" with due_only=False).
    Those whose message now exists are recorded (once: the ledger of applied callbacks still dedupes) and marked
    applied with their content dropped; the others wait longer; those past the retention expire."""
    # Imported here: status keeps unmatched callbacks through this module.
    from .status import StatusCallbackData, UnknownMessage, message_statuses_record

    now = now or timezone.now()
    counts = {"applied": 0, "waiting": 0, "expired": 0}
    cutoff = now - timedelta(hours=settings.MESSAGING_UNMATCHED_CALLBACK_RETENTION_HOURS)
    with transaction.atomic():
        counts["expired"] = _drop(
            UnmatchedCallback.objects.filter(state=UnmatchedState.PENDING, received_at__lt=cutoff),
            UnmatchedState.EXPIRED,
            now,
        )
        pending = UnmatchedCallback.objects.select_for_update(skip_locked=True).filter(state=UnmatchedState.PENDING)
        if due_only:
            pending = pending.filter(next_attempt_at__lte=now)
        rows = list(pending.order_by("next_attempt_at", "id")[:limit])
        by_source: dict[str, list[UnmatchedCallback]] = {}
        for row in rows:
            by_source.setdefault(row.source, []).append(row)
        for source, group in by_source.items():
            callbacks = [StatusCallbackData.unsealed(row.data_encrypted) for row in group]
            results = message_statuses_record(callbacks=callbacks, source=source)
            applied = [
                row.id for row, result in zip(group, results, strict=True) if not isinstance(result, UnknownMessage)
            ]
            counts["applied"] += _drop(UnmatchedCallback.objects.filter(id__in=applied), UnmatchedState.APPLIED, now)
            for row, result in zip(group, results, strict=True):
                if isinstance(result, UnknownMessage):
                    row.attempts += 1
                    row.next_attempt_at = now + _backoff(row.attempts)
                    counts["waiting"] += 1
            UnmatchedCallback.objects.bulk_update(
                [row for row in group if row.id not in set(applied)], ["attempts", "next_attempt_at"]
            )
    if counts["applied"] or counts["expired"]:
        logger.info("unmatched callbacks: %(applied)d applied, %(waiting)d waiting, %(expired)d expired", counts)
    return counts


def unmatched_callbacks_forget(*, identifier_keys: Iterable[str], **_context: object) -> int:
    """Erasure hook (CUSTOMERS_ERASURE_HOOKS): drop the kept callbacks addressed to one of these identifiers, in the
    erasure's transaction."""
    digests = [crypto.identifier_digest(key) for key in identifier_keys]
    if not digests:
        return 0
    return _drop(UnmatchedCallback.objects.filter(address_digest__in=digests), UnmatchedState.EXPIRED, timezone.now())
