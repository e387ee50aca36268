from dataclasses import dataclass, field
from typing import Any, ClassVar


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

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; return the provider's message id. Raise DeliveryError when it fails."""
        raise NotImplementedError
