"""Customer-service cases: one thread across channels, replies through the outbound pipeline, resolution with
compensation, and the satisfaction survey that follows it.

Every command is one transaction: the case event, its projection and (for replies and surveys) the outbound
message are committed together or not at all, so a refused reply leaves no trace and an accepted one is sent once.
"""

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import keys, store
from backoffice.eventstore.schema import EventData
from backoffice.eventstore.vocabulary import Channel, Purpose
from backoffice.messaging.channels import content_for
from backoffice.messaging.errors import ChannelRuleError
from backoffice.messaging.policy import whatsapp_window_open_when_sent
from backoffice.messaging.services import message_send

from ..events import CaseCsatRecorded, CaseMessageAdded, CaseOpened, CaseResolved
from ..models import Case
from ..reachability import customer_preferred_channel, customer_reachable_channels
from ..selectors import CustomerNotFound, case_survey_key, customer_is_erased, customer_resolve_id

# Replies on these channels are said, not sent: the agent called the customer back or spoke at the counter, and
# the thread records what was said.
SPOKEN_CHANNELS = (Channel.PHONE, Channel.STORE)

logger = logging.getLogger(__name__)
# The survey by SMS: one GSM-7 segment (operations may cap SMS at one).
SMS_SURVEY_TEXT = "Hemos resuelto su consulta. \u00bfQu\u00e9 tal le atendimos? Responda del 1 (mal) al 5 (muy bien)."

if TYPE_CHECKING:  # a type name only
    from backoffice.messaging.models import OutboundMessage


class CaseRefused(Exception):
    """A case command that cannot be done as asked. `status` 400 (the request) or 409 (the case's state)."""

    def __init__(self, field: str, message: str, code: str, *, status: int = 400, **extra: Any) -> None:
        self.field = field
        self.code = code
        self.status = status
        self.extra = extra
        super().__init__(message)


def _case_for_update(case_id: uuid.UUID) -> Case:
    case = Case.objects.select_for_update().filter(id=case_id).first()
    if case is None:
        raise CaseRefused("case_id", "no such case", "not_found", status=404)
    return case


def _same_opening(case: Case, owner: uuid.UUID, channel: str, subject: str) -> bool:
    """Whether an opening sent again is the one that opened `case`: the same person (through merges since), channel
    and subject (an erased customer's subject is gone: their person and channel tell)."""
    same_person = customer_resolve_id(customer_id=case.customer_id) == owner
    return (
        same_person
        and case.channel == channel
        and (case.subject in (subject, "") or customer_is_erased(customer_id=owner))
    )


def _refuse_erased() -> CaseRefused:
    return CaseRefused("customer", "this customer was erased", "erased", status=409)


def case_resolved_on_erasure(
    *, case_id: uuid.UUID, actor: str, channel: str | None = None, occurred_at: datetime | None = None
) -> store.NewEvent:
    """The `case.resolved` that closes a case because its customer is erased: no resolution text, no compensation,
    no survey. It carries no customer id: nothing personal is in it (their key may be gone already), and it is
    record keeping, not an interaction of theirs."""
    return store.NewEvent.of(
        CaseResolved(case_id=str(case_id), closed_because="customer_erased"),
        id=uuid.uuid5(case_id, "closed-on-erasure"),
        channel=channel,
        occurred_at=occurred_at,
        metadata={"actor": actor},
    )


def _append(
    case_id: uuid.UUID,
    customer_id: uuid.UUID,
    event: EventData,
    *,
    channel: str,
    actor: str,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> store.RecordedEvent:
    return store.append(
        f"case-{case_id}",
        [
            store.NewEvent.of(
                event,
                id=event_id,
                channel=channel,
                customer_id=customer_id,
                occurred_at=occurred_at,
                metadata={"actor": actor},
            )
        ],
    )[0]


def case_open(
    *,
    customer_id: uuid.UUID,
    channel: str,
    subject: str,
    text: str = "",
    order_ref: str = "",
    actor: str,
    case_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    message_id: str = "",
) -> Case:
    """Open a case for the customer (a merged id opens it for the person), with the customer's first message.

    Idempotent on `case_id`: opening the same case again answers the case as it is; the id sent with another person,
    channel or subject is a 409 (CaseRefused "idempotency_conflict"), never someone else's case. Raises
    CustomerNotFound, CaseRefused (erased customer), EventValidationError (a bad field).
    """
    case_id = case_id or uuid.uuid4()
    with transaction.atomic():
        owner = customer_resolve_id(customer_id=customer_id)
        existing = Case.objects.filter(id=case_id).first()
        if existing is not None:
            if _same_opening(existing, owner, channel, subject):
                return existing
            raise CaseRefused("id", "this case id was used to open another case", "idempotency_conflict", status=409)
        if customer_is_erased(customer_id=owner):
            raise _refuse_erased()
        _append(
            case_id,
            owner,
            CaseOpened(case_id=str(case_id), customer_id=str(owner), subject=subject, order_ref=order_ref),
            channel=channel,
            actor=actor,
            event_id=uuid.uuid5(case_id, "opened"),
            occurred_at=occurred_at,
        )
        if text:
            _append(
                case_id,
                owner,
                CaseMessageAdded(case_id=str(case_id), direction="in", text=text, message_id=message_id),
                channel=channel,
                actor=actor,
                event_id=uuid.uuid5(case_id, "first-message"),
                occurred_at=occurred_at,
            )
        return Case.objects.get(id=case_id)


def case_message_receive(
    *,
    case_id: uuid.UUID,
    channel: str,
    text: str,
    actor: str,
    message_id: str = "",
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Case:
    """A message from the customer joins the case's thread, on whatever channel it came."""
    with transaction.atomic():
        case = _case_for_update(case_id)
        _append(
            case.id,
            case.customer_id,
            CaseMessageAdded(case_id=str(case.id), direction="in", text=text, message_id=message_id),
            channel=channel,
            actor=actor,
            event_id=event_id,
            occurred_at=occurred_at,
        )
        return Case.objects.get(id=case.id)


def case_reply(
    *,
    case_id: uuid.UUID,
    channel: str,
    text: str,
    actor: str,
    reply_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Case:
    """Reply to the customer on any channel they can be reached on for service (or say it by phone or at the
    counter). Idempotent on `reply_id`: the same reply again answers the case as it is and writes nothing; the id
    of another message (other text or channel, another case, a message from the customer) is refused
    (CaseRefused "idempotency_conflict", 409). Raises CaseRefused: erased customer, closed case, unreachable
    channel, a channel rule."""
    reply_id = reply_id or uuid.uuid4()
    with transaction.atomic():
        case = _case_for_update(case_id)
        stored = store.stored_events([reply_id]).get(reply_id)
        if stored is not None:
            if not _same_reply(stored[1], case.id, channel, text):
                raise CaseRefused(
                    "id", "this message id was used for another message", "idempotency_conflict", status=409
                )
            return case
        if customer_is_erased(customer_id=case.customer_id):
            # Nothing personal can be stored about them any more: their key is destroyed.
            raise _refuse_erased()
        if case.status != Case.Status.OPEN:
            raise CaseRefused(
                "case_id", "the case is resolved; open a new one", "case_closed", status=409, case_status=case.status
            )
        message_id = ""
        if channel not in SPOKEN_CHANNELS:
            reachable = customer_reachable_channels(customer_id=case.customer_id, purpose=Purpose.SERVICE)
            if channel not in reachable:
                raise CaseRefused(
                    "channel",
                    f"the customer cannot be reached on {channel}; reachable: {', '.join(reachable) or 'none'}",
                    "unreachable",
                    reachable=reachable,
                )
            message_id = str(_send(case, channel, _reply_content(case, channel, text), f"case-reply-{reply_id}", actor))
        _append(
            case.id,
            case.customer_id,
            CaseMessageAdded(case_id=str(case.id), direction="out", text=text, message_id=message_id),
            channel=channel,
            actor=actor,
            event_id=reply_id,
            occurred_at=occurred_at,
        )
        return Case.objects.get(id=case.id)


def _same_reply(event: store.RecordedEvent, case_id: uuid.UUID, channel: str, text: str) -> bool:
    """Whether a stored event is this very reply (a resend). The text of an erased customer's reply is gone: what
    can still be compared is, and the resend writes nothing either way."""
    data = event.data
    return bool(
        event.type == CaseMessageAdded.type_name
        and event.stream == f"case-{case_id}"
        and event.channel == channel
        and data.get("direction") == "out"
        and (data.get("text") == text or data.get("text") == keys.ERASED)
    )


def case_resolve(
    *,
    case_id: uuid.UUID,
    resolution: str,
    compensation: dict[str, Any] | None = None,
    actor: str,
    channel: str | None = None,
    occurred_at: datetime | None = None,
) -> Case:
    """Resolve the case, with the compensation given (voucher with amount and code, refund, reshipment), and send
    the satisfaction survey on the case's channel (or the customer's preferred one) through the pipeline.

    An erased customer's case (left open by an erasure made before erasure closed cases) is closed without the
    resolution text, compensation or survey: nothing personal can be stored about them. A compensation for them is
    refused (CaseRefused "erased")."""
    with transaction.atomic():
        case = _case_for_update(case_id)
        if case.status != Case.Status.OPEN:
            raise CaseRefused(
                "case_id", "the case is already resolved", "case_closed", status=409, case_status=case.status
            )
        if customer_is_erased(customer_id=case.customer_id):
            if compensation and compensation.get("kind", "none") != "none":
                raise _refuse_erased()
            closing = case_resolved_on_erasure(
                case_id=case.id, actor=actor, channel=channel or case.channel, occurred_at=occurred_at
            )
            store.append(f"case-{case.id}", [closing])
            return Case.objects.get(id=case.id)
        _append(
            case.id,
            case.customer_id,
            CaseResolved.from_data(
                {"case_id": str(case.id), "resolution": resolution, "compensation": compensation or {"kind": "none"}}
            ),
            channel=channel or case.channel,
            actor=actor,
            occurred_at=occurred_at,
        )
        _send_survey(case, actor)
        return Case.objects.get(id=case.id)


def case_csat_record(
    *,
    case_id: uuid.UUID,
    score: int,
    comment: str = "",
    channel: str,
    actor: str,
    occurred_at: datetime | None = None,
) -> Case:
    """The customer's answer to the survey. Once per case, after resolution."""
    with transaction.atomic():
        case = _case_for_update(case_id)
        if case.status != Case.Status.RESOLVED:
            raise CaseRefused(
                "case_id",
                "satisfaction is asked once the case is resolved",
                "case_open",
                status=409,
                case_status=case.status,
            )
        if case.csat_score is not None:
            raise CaseRefused(
                "case_id",
                "the satisfaction survey was already answered",
                "already_answered",
                status=409,
                score=case.csat_score,
            )
        _append(
            case.id,
            case.customer_id,
            CaseCsatRecorded(case_id=str(case.id), score=score, comment=comment),
            channel=channel,
            actor=actor,
            occurred_at=occurred_at,
        )
        return Case.objects.get(id=case.id)


def _send(case: Case, channel: str, content: dict[str, Any], key: str, actor: str) -> uuid.UUID:
    def send(content: dict[str, Any]) -> "OutboundMessage":
        return message_send(
            customer_id=case.customer_id,
            channel=channel,
            purpose=Purpose.SERVICE,
            content=content,
            idempotency_key=key,
            actor=actor,
            case_id=str(case.id),
        )

    def template() -> dict[str, Any]:
        # Past WhatsApp's 24-hour window only approved templates go out: the case-update template carries the
        # agent's words as its parameter.
        return {"template": settings.CASES_REPLY_WHATSAPP_TEMPLATE, "parameters": [content["text"][:1000]]}

    try:
        if _free_text_misses_the_window(case, channel, content):
            message = send(template())
        else:
            try:
                message = send(content)
            except ChannelRuleError as exc:
                if exc.code != "template_required":
                    raise
                message = send(template())
    except ChannelRuleError as exc:
        raise CaseRefused(
            exc.field.replace("content.", "text.", 1) if exc.field.startswith("content.") else exc.field,
            exc.message,
            exc.code,
        ) from None
    message_id: uuid.UUID = message.id
    return message_id


def _free_text_misses_the_window(case: Case, channel: str, content: dict[str, Any]) -> bool:
    """A WhatsApp text the window takes now, but that quiet hours hold until after it closes (the drain would then
    suppress it): it goes as the template at once."""
    if channel != Channel.WHATSAPP or "text" not in content:
        return False
    return not whatsapp_window_open_when_sent(customer_id=case.customer_id, purpose=Purpose.SERVICE, now=timezone.now())


def _reply_content(case: Case, channel: str, text: str) -> dict[str, Any]:
    # WhatsApp: the text within the 24-hour window; past it, the reply goes out as the case-update template.
    return content_for(channel, subject=f"Re: {case.subject}"[:200], title=str(settings.CASES_SENDER_NAME), text=text)


def _send_survey(case: Case, actor: str) -> None:
    """The satisfaction survey, if the channel takes it: a survey the channel refuses (SMS segments, a template)
    never blocks the resolution. It is skipped, with the reason in the log, and the case has no survey message
    (selectors.case_survey_queued)."""
    survey_channel = _survey_channel(case)
    if survey_channel is None:
        return
    try:
        with transaction.atomic():  # a savepoint: a refused survey leaves nothing of itself
            _send(case, survey_channel, _survey_content(case, survey_channel), case_survey_key(case.id), actor)
    except CaseRefused as exc:
        logger.warning("case %s: satisfaction survey not sent on %s (%s: %s)", case.id, survey_channel, exc.code, exc)


def _survey_channel(case: Case) -> str | None:
    reachable = customer_reachable_channels(customer_id=case.customer_id, purpose=Purpose.SERVICE)
    if case.channel in reachable:
        return case.channel
    return customer_preferred_channel(customer_id=case.customer_id, purpose=Purpose.SERVICE)


def _survey_content(case: Case, channel: str) -> dict[str, Any]:
    question = (
        f"{settings.CASES_SENDER_NAME}: hemos resuelto su consulta \u00ab{case.subject[:60]}\u00bb. "
        "\u00bfQu\u00e9 tal le atendimos? Responda con un n\u00famero del 1 (mal) al 5 (muy bien)."
    )
    if channel == Channel.SMS:
        # One segment, whatever the subject or the sender's name: neither is in it (one emoji or accent outside the
        # GSM-7 alphabet would make the whole text UCS-2, 70 characters a segment), and every character is GSM-7.
        question = SMS_SURVEY_TEXT
    # Outside the 24-hour window WhatsApp only accepts approved templates; the survey is one.
    return content_for(
        channel,
        subject=f"\u00bfQu\u00e9 tal le atendimos? ({case.subject[:80]})",
        title="\u00bfQu\u00e9 tal le atendimos?",
        text=question[:170] if channel == Channel.PUSH else question,
        template=settings.CASES_CSAT_WHATSAPP_TEMPLATE,
        parameters=[case.subject[:60]],
    )


__all__ = [
    "CaseRefused",
    "CustomerNotFound",
    "case_csat_record",
    "case_message_receive",
    "case_open",
    "case_reply",
    "case_resolve",
    "case_resolved_on_erasure",
]
