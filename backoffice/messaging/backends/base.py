from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import DeliveryError


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    idempotency_key: str
    channel: str
    purpose: str
    to: str
    content: dict[str, Any]
    sender: str = ""
    reply_to: str = ""
    attempt: int = 1
    # Attribution the provider may echo back (campaign, case, order): never personal data.
    tags: dict[str, str] = field(default_factory=dict)


class Backend:
    name: ClassVar[str] = ""
    # Sending the same idempotency key twice delivers once (the provider or the backend dedupes).
    honours_idempotency_key: ClassVar[bool] = False
    # Sends the drain may run at once on this backend (thread-safe, waiting on a remote provider): a drain batch's
    # provider round trips overlap instead of queueing one behind the other. 1: one at a time.
    concurrent_sends: ClassVar[int] = 1
    # Messages the drain hands to `send_many` at once; 1: it calls `send` for each.
    batch_size: int = 1

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; return the provider's message id. Raise DeliveryError when it fails."""
        raise NotImplementedError

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | DeliveryError]:
        """Hand these messages over (in as few provider calls as the provider allows): the provider's message id or
        the DeliveryError of each, in order. One `send` each unless a backend knows better."""
        outcomes: list[str | DeliveryError] = []
        for message in messages:
            try:
                outcomes.append(self.send(message))
            except DeliveryError as exc:
                outcomes.append(exc)
        return outcomes
