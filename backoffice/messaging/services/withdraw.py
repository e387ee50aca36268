"""messages_withdraw: a sender takes back the messages it queued that no provider has been handed yet (a campaign
cancelled while its messages wait in the outbox: queued, deferred by quiet hours, held for review). Each becomes
`suppressed` with the sender's reason and records `message.suppressed`, in the caller's transaction, so the drain
never sends it. A message being sent (`sending`) is in a provider's hands already: it is left to the drain."""

from typing import Final

from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import store

from ..events import MessageSuppressed
from ..models import OutboundMessage, Status
from .send import event_id_for

# What no provider has been handed: waiting in the queue, deferred by quiet hours, or held for staff to review.
WITHDRAWABLE: Final = (Status.QUEUED, Status.DEFERRED, Status.REVIEW)
_UPDATE_CHUNK: Final = 1000
_FIELDS: Final = ("id", "customer_id", "channel", "purpose", "campaign_id", "case_id", "order_id", "variant")


def messages_withdraw(*, campaign_id: str, reason: str, actor: str) -> int:
    """Suppress every message of the campaign not handed to a provider yet, with `reason` (a code, e.g.
    "campaign_cancelled"); returns how many. The rows are locked first (in id order): a drain taking one of them
    right now either moved it to `sending` before (it is left alone) or finds it suppressed after."""
    now = timezone.now()
    with transaction.atomic():
        waiting = OutboundMessage.objects.select_for_update().filter(campaign_id=campaign_id, status__in=WITHDRAWABLE)
        rows = list(waiting.order_by("id").only(*_FIELDS))
        if not rows:
            return 0
        # These rows only, by id (a message queued since the SELECT would be suppressed without its event otherwise).
        ids = [row.id for row in rows]
        for start in range(0, len(ids), _UPDATE_CHUNK):
            OutboundMessage.objects.filter(id__in=ids[start : start + _UPDATE_CHUNK]).update(
                status=Status.SUPPRESSED, reason=reason[:500], sending_since=None, updated_at=now
            )
        store.append_batches(
            [
                store.StreamAppend(
                    row.stream,
                    [
                        store.NewEvent.of(
                            MessageSuppressed.from_data({**row.attribution(), "reason": reason[:100]}),
                            # A message is suppressed once: the id the drain would give its suppression.
                            id=event_id_for(row.id, "suppressed"),
                            channel=row.channel,
                            customer_id=row.customer_id,
                            metadata={"actor": actor},
                        )
                    ],
                )
                for row in rows
            ]
        )
    return len(rows)
