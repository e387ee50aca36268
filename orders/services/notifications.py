"""Telling the customer about their order at the steps that matter: ready to collect, shipped, refunded.

Sent through the outbound messaging pipeline (purpose `service`) on the customer's preferred reachable channel,
inside the step's transaction, so a step that rolls back sends nothing and a step that commits is told once
(the idempotency key is the order and the step).
"""

from ..models import Order


def order_notify(*, order: Order, step: str, actor: str) -> None:
    """Not wired yet: the messaging pipeline (backoffice.messaging.services.message_send) is being built in
    another branch. Until it is merged, steps are recorded and nobody is told."""
    return None
