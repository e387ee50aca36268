"""A message a customer sends us on a channel (a provider's inbound webhook), handled once.

It is recorded as a `message.received` interaction of the person its sender address names (registered if new), and
then, in the same transaction, it either:
- withdraws marketing consent on that channel (STOP, BAJA, unsubscribe..., or the provider classified it as an
  opt-out): the next marketing send is suppressed;
- grants marketing consent on that channel when the provider re-subscribed the person (Twilio's OptOutType=START:
  they texted START, YES or UNSTOP), or is only recorded when the provider answered it itself (OptOutType=HELP):
  neither opens a case;
- answers the satisfaction survey of a case resolved lately (a bare 1 to 5);
- joins the person's open case, or opens one.
A provider may also say the person stopped marketing messages in its app (Meta's user_preferences): no message, so
nothing is recorded but the withdrawal, for the customer the address names if we know them.
Replays of the same provider message are recognised by its id and change nothing.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from backoffice.eventstore import store
from backoffice.eventstore.errors import EventValidationError, FieldError
from backoffice.eventstore.vocabulary import Purpose
from backoffice.messaging.vocabulary import InboundClassification

from ..events import MessageReceived
from ..reachability import ADDRESS_KINDS
from ..selectors import case_awaiting_csat, case_open_for, customer_id_by_identifier, customer_is_erased
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


class PreferenceChange(BaseModel):
    """A provider saying the person changed a preference in its app (not a message): the address and a reference that
    names this change (the same change sent again has the same one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    provider_message_id: str = Field(min_length=1, max_length=200)
    sender: str = Field(min_length=1, max_length=254, alias="from")
    received_at: AwareDatetime | None = None


@dataclass(frozen=True)
class InboundResult:
    event_id: uuid.UUID
    # None for a duplicate whose first recording named nobody (never seen), or a preference change of nobody we know
    customer_id: uuid.UUID | None
    action: Literal["case_opened", "case_message", "unsubscribed", "subscribed", "help", "csat", "duplicate", "ignored"]
    case_id: uuid.UUID | None
    duplicate: bool


def _validated(model: type[BaseModel], payload: dict[str, Any]) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise EventValidationError(
            [
                FieldError(0, ".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "), e["type"])
                for e in exc.errors(include_url=False)
            ]
        ) from None


def inbound_message_receive(
    *, channel: str, payload: dict[str, Any], actor: str, classified_as: str | None = None
) -> InboundResult:
    """Record and act on one inbound message. Raises EventValidationError naming the bad field.

    `classified_as` (messaging.vocabulary.InboundClassification; the provider doors only, the public webhook never
    passes it): what the provider itself made of it. OPT_OUT withdraws marketing like STOP; OPT_IN grants it (the
    provider re-subscribed the person); HELP is only recorded; MARKETING_STOPPED is no message at all
    (`inbound_marketing_stopped`)."""
    if channel not in INBOUND_CHANNELS:
        raise EventValidationError([FieldError(0, "channel", f"no inbound messages on {channel!r}", "unknown_channel")])
    if classified_as == InboundClassification.MARKETING_STOPPED:
        return inbound_marketing_stopped(channel=channel, change=_validated(PreferenceChange, payload), actor=actor)
    message = _validated(InboundMessage, payload)
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
        if classified_as == InboundClassification.OPT_IN:
            return _opted_in(channel, customer_id, event_id, received_at, actor)
        if classified_as == InboundClassification.HELP:
            # The provider answered it (Twilio replies to HELP itself): nothing for staff to do.
            return InboundResult(event_id, customer_id, "help", None, False)
        if words in STOP_WORDS or message.is_opt_out or classified_as == InboundClassification.OPT_OUT:
            _marketing_said_on(
                channel,
                customer_id,
                is_granted=False,
                wording=opt_out_wording(channel=channel, by_keyword=words in STOP_WORDS, message_id=event_id),
                said_at=received_at,
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


def opt_in_wording(*, channel: str, message_id: uuid.UUID) -> str:
    """What a provider's re-subscription records as the consent's wording: how it was said, never the person's words
    (the wording is not sealed; the message is, named by its id)."""
    return f"Opt-in keyword received on {channel} (inbound message {message_id})."


def _opted_in(
    channel: str, customer_id: uuid.UUID, event_id: uuid.UUID, received_at: datetime, actor: str
) -> InboundResult:
    """The provider re-subscribed the person (they texted START, YES or UNSTOP to Twilio): it delivers their marketing
    again, so the ledger grants it, once (the event id derives from the message's). Never for an erased person."""
    if customer_is_erased(customer_id=customer_id):
        return InboundResult(event_id, customer_id, "ignored", None, False)
    _marketing_said_on(
        channel,
        customer_id,
        is_granted=True,
        wording=opt_in_wording(channel=channel, message_id=event_id),
        said_at=received_at,
        event_id=uuid.uuid5(event_id, "start"),
        actor=actor,
    )
    return InboundResult(event_id, customer_id, "subscribed", None, False)


def marketing_stopped_wording(*, channel: str, reference_id: uuid.UUID) -> str:
    return f"Marketing messages stopped in the {channel} app (provider notice {reference_id})."


def inbound_marketing_stopped(*, channel: str, change: PreferenceChange, actor: str) -> InboundResult:
    """The person stopped marketing messages in the provider's app (WhatsApp's "Stop promotions"): marketing is
    withdrawn on the channel for the customer the address names, once per change (the event id derives from the
    provider's reference: a resend changes nothing). Nothing else is recorded: it is not a message (one would open
    WhatsApp's 24-hour window), and a person we do not know has no consent to withdraw (ignored)."""
    reference_id = uuid.uuid5(INBOUND_NAMESPACE, f"{channel}:preference:{change.provider_message_id}")
    customer_id = customer_id_by_identifier(kind=ADDRESS_KINDS[channel], value=change.sender)
    if customer_id is None:
        return InboundResult(reference_id, None, "ignored", None, False)
    event_id = uuid.uuid5(reference_id, "stop")
    with transaction.atomic():
        if store.stored_events([event_id]):
            return InboundResult(reference_id, customer_id, "duplicate", None, True)
        _marketing_said_on(
            channel,
            customer_id,
            is_granted=False,
            wording=marketing_stopped_wording(channel=channel, reference_id=reference_id),
            said_at=change.received_at or timezone.now(),
            event_id=event_id,
            actor=actor,
        )
    return InboundResult(reference_id, customer_id, "unsubscribed", None, False)


def _marketing_said_on(
    channel: str,
    customer_id: uuid.UUID,
    *,
    is_granted: bool,
    wording: str,
    said_at: datetime,
    event_id: uuid.UUID,
    actor: str,
) -> None:
    """Marketing granted or withdrawn on `channel` as the person said it there (a keyword, a provider's notice)."""
    consent_record(
        customer_id=customer_id,
        channel=channel,
        purpose=Purpose.MARKETING,
        is_granted=is_granted,
        source_channel=channel,
        wording=wording,
        # A provider clock a little ahead must not postpone the change: it holds from now at the latest.
        occurred_at=min(said_at, timezone.now()),
        event_id=event_id,
        actor=actor,
    )


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
