"""A message a customer sends us on a channel (a provider's inbound webhook), handled once.

It is recorded as a `message.received` interaction of the person its sender address names (registered if new), and
then, in the same transaction, it either:
- withdraws marketing consent on that channel (STOP, BAJA, unsubscribe...): the next marketing send is suppressed;
- answers the satisfaction survey of a case resolved lately (a bare 1 to 5);
- joins the person's open case, or opens one.
Replays of the same provider message are recognised by its id and change nothing.
"""

import uuid
from dataclasses import dataclass
from typing import Any, Final, Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from backoffice.eventstore import store
from backoffice.eventstore.errors import EventValidationError, FieldError
from backoffice.eventstore.vocabulary import Purpose

from ..events import MessageReceived
from ..reachability import ADDRESS_KINDS
from ..selectors import case_awaiting_csat, case_open_for
from .cases import case_csat_record, case_message_receive, case_open
from .consents import consent_record, opt_out_wording
from .ingestion import interactions_ingest

INBOUND_NAMESPACE: Final = uuid.UUID("2d3c5c8e-7b1a-4f0e-8c43-1f6a9e0b7d22")
# Which identifier a sender address is, per channel: the identifier we reach them at there (reachability's).
INBOUND_CHANNELS: Final = tuple(ADDRESS_KINDS)
# Said alone, these withdraw marketing on the channel they arrive on (Spanish carriers' BAJA included).
# Twilio's default opt-out keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT) included.
STOP_WORDS: Final = frozenset(
    {
        "stop",
        "baja",
        "unsubscribe",
        "cancelar",
        "darme de baja",
        "stopall",
        "end",
        "fin",
        "cancel",
        "quit",
        "revoke",
        "optout",
    }
)
SUBJECT_LENGTH: Final = 80


class InboundMessage(BaseModel):
    """What a provider posts to /api/v1/channels/{channel}/inbound."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    provider_message_id: str = Field(min_length=1, max_length=200)
    sender: str = Field(min_length=1, max_length=254, alias="from")
    text: str = Field(min_length=1, max_length=10000)
    subject: str = Field(default="", max_length=300)
    name: str = Field(default="", max_length=200)
    received_at: AwareDatetime | None = None
    # The provider itself classified the message as an opt-out (Twilio's OptOutType=STOP, for the keywords an
    # account configured): it withdraws marketing whatever the words.
    is_opt_out: bool = False


@dataclass(frozen=True)
class InboundResult:
    event_id: uuid.UUID
    customer_id: uuid.UUID | None  # None only for a duplicate whose first recording named nobody (never seen)
    action: Literal["case_opened", "case_message", "unsubscribed", "csat", "duplicate"]
    case_id: uuid.UUID | None
    duplicate: bool


def inbound_message_receive(*, channel: str, payload: dict[str, Any], actor: str) -> InboundResult:
    """Record and act on one inbound message. Raises EventValidationError naming the bad field."""
    if channel not in INBOUND_CHANNELS:
        raise EventValidationError([FieldError(0, "channel", f"no inbound messages on {channel!r}", "unknown_channel")])
    try:
        message = InboundMessage.model_validate(payload)
    except ValidationError as exc:
        raise EventValidationError(
            [
                FieldError(0, ".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "), e["type"])
                for e in exc.errors(include_url=False)
            ]
        ) from None
    event_id = uuid.uuid5(INBOUND_NAMESPACE, f"{channel}:{message.provider_message_id}")
    received_at = message.received_at or timezone.now()
    customer = {ADDRESS_KINDS[channel]: message.sender}
    if message.name:
        customer["name"] = message.name
    item = {
        "id": str(event_id),
        "type": MessageReceived.type_name,
        "channel": channel,
        "occurred_at": received_at.isoformat(),
        "customer": customer,
        "data": {"text": message.text, "subject": message.subject, "provider_message_id": message.provider_message_id},
    }
    with transaction.atomic():
        # A provider retrying without received_at sends other content (our clock moved): the id decides.
        already = store.stored_events([event_id]).get(event_id)
        if already is not None:
            return InboundResult(event_id, already[1].customer_id, "duplicate", None, True)
        try:
            (recorded,) = interactions_ingest(raw_items=[item], actor=actor, source="api.inbound")
        except EventValidationError as exc:
            raise EventValidationError([_from_field(e) for e in exc.errors]) from None
        if recorded.duplicate:
            return InboundResult(event_id, recorded.customer_id, "duplicate", None, True)
        customer_id = recorded.customer_id
        if customer_id is None:  # the sender's address always resolves to a customer: ingestion registers them
            raise RuntimeError(f"inbound message {event_id} was recorded without a customer")
        words = " ".join(message.text.lower().split()).strip(".!¡ ")
        if words in STOP_WORDS or message.is_opt_out:
            consent_record(
                customer_id=customer_id,
                channel=channel,
                purpose=Purpose.MARKETING,
                is_granted=False,
                source_channel=channel,
                wording=opt_out_wording(channel=channel, by_keyword=words in STOP_WORDS, message_id=event_id),
                # A provider clock a little ahead must not postpone the withdrawal: it holds from now at the latest.
                occurred_at=min(received_at, timezone.now()),
                event_id=uuid.uuid5(event_id, "stop"),
                actor=actor,
            )
            return InboundResult(event_id, customer_id, "unsubscribed", None, False)
        if words in {"1", "2", "3", "4", "5"}:
            awaiting = case_awaiting_csat(
                customer_id=customer_id, within=received_at - settings.CASES_CSAT_REPLY_WINDOW
            )
            if awaiting is not None:
                case_csat_record(case_id=awaiting.id, score=int(words), channel=channel, actor=actor)
                return InboundResult(event_id, customer_id, "csat", awaiting.id, False)
        case = case_open_for(customer_id=customer_id)
        if case is not None:
            case_message_receive(
                case_id=case.id,
                channel=channel,
                text=message.text,
                actor=actor,
                message_id=str(event_id),
                occurred_at=received_at,
                event_id=uuid.uuid5(event_id, "case"),
            )
            return InboundResult(event_id, customer_id, "case_message", case.id, False)
        case = case_open(
            customer_id=customer_id,
            channel=channel,
            subject=_subject(message),
            text=message.text,
            actor=actor,
            case_id=uuid.uuid5(event_id, "case"),
            occurred_at=received_at,
            message_id=str(event_id),
        )
        return InboundResult(event_id, customer_id, "case_opened", case.id, False)


def _subject(message: InboundMessage) -> str:
    if message.subject:
        return message.subject
    first_line = message.text.splitlines()[0].strip()
    return first_line if len(first_line) <= SUBJECT_LENGTH else first_line[: SUBJECT_LENGTH - 1] + "…"


def _from_field(error: FieldError) -> FieldError:
    """Ingestion names the envelope's fields; the provider sent `from`, `text`, `received_at`."""
    renames = {"customer.": "from", "data.text": "text", "data.subject": "subject", "occurred_at": "received_at"}
    for prefix, name in renames.items():
        if error.field.startswith(prefix):
            return FieldError(0, name, error.message, error.code)
    return error
