"""Telling the customer: order steps that matter (ready to collect, shipped, refunded) and abandoned-cart reminders.

Queued through the outbound messaging pipeline (`message_send`) inside the caller's transaction, so a step that
rolls back sends nothing and one that commits is told once: the idempotency key is the order and the step (or the
cart). The channel is the customer's preferred reachable one for the purpose: `service` for order updates,
`marketing` for reminders (which needs an explicit grant). Consent, address and quiet hours are checked again by
messaging at send time. Texts are in the customer's language.
"""

import logging
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from backoffice.eventstore.vocabulary import Purpose
from backoffice.messaging.channels import content_for
from backoffice.messaging.errors import ChannelRuleError
from backoffice.messaging.services import message_send
from customers.reachability import customer_preferred_channel
from customers.selectors import customer_language

from ..models import Location, Order, Product

logger = logging.getLogger(__name__)
# WhatsApp outside the customer's 24-hour window takes templates only, approved with the provider under these names.
TEMPLATES = {"ready": "order_ready", "shipped": "order_shipped", "refund": "order_refund", "cart": "cart_reminder"}


def order_notify(
    *, order: Order, step: str, actor: str, refund_amount: Decimal | None = None, is_restocked: bool = True
) -> str:
    """Queue the message for a step (ready, shipped, refund). Returns the message id, or "" when nobody can be told.

    A refund states `refund_amount`, what this return refunded (the order's running total when not given), and
    speaks of a return only when the goods came back (`is_restocked`)."""
    channel = customer_preferred_channel(customer_id=order.customer_id, purpose=Purpose.SERVICE)
    if channel is None:
        return ""
    with translation.override(_language(order.customer_id)):
        if step == "ready":
            store = Location.objects.filter(code=order.fulfilment_location).values_list("name", flat=True).first()
            parameters = [order.id, store or order.fulfilment_location]
            subject = _("Your order %(order)s is ready to collect") % {"order": order.id}
            text = _("Your order %(order)s is ready to collect at %(store)s.") % {
                "order": order.id,
                "store": parameters[1],
            }
        elif step == "shipped":
            parameters = [order.id]
            subject = _("Your order %(order)s has shipped") % {"order": order.id}
            text = _("Your order %(order)s is on its way.") % {"order": order.id}
        else:
            amount = f"{order.refunded if refund_amount is None else refund_amount} {order.currency}"
            parameters = [order.id, amount]
            subject = _("Refund for your order %(order)s") % {"order": order.id}
            if is_restocked:
                text = _("We have received your return of order %(order)s. Refund: %(amount)s.") % {
                    "order": order.id,
                    "amount": amount,
                }
            else:
                text = _("We have refunded %(amount)s for your order %(order)s.") % {
                    "order": order.id,
                    "amount": amount,
                }
    # A refund may happen more than once (partial returns): each is its own message.
    key = f"order:{order.id}:{step}" + (f":{order.version}" if step == "refund" else "")
    return _send(
        customer_id=order.customer_id,
        channel=channel,
        purpose=Purpose.SERVICE,
        content=_content(channel, subject, text, TEMPLATES[step], parameters),
        key=key,
        actor=actor,
        order_id=order.id,
    )


def cart_remind(*, cart_id: str, customer_id: uuid.UUID, items: list[dict[str, Any]], actor: str) -> tuple[str, str]:
    """Queue the one reminder of an abandoned cart. Returns (message id, channel); ("", "") when no channel
    allows marketing."""
    channel = customer_preferred_channel(customer_id=customer_id, purpose=Purpose.MARKETING)
    if channel is None:
        return "", ""
    names = dict(Product.objects.filter(sku__in=[item["sku"] for item in items]).values_list("sku", "name"))
    listed = ", ".join(f"{names.get(item['sku'], item['sku'])} x{item['quantity']}" for item in items[:3])
    if len(items) > 3:
        listed += f" (+{len(items) - 3})"
    with translation.override(_language(customer_id)):
        subject = _("You left something in your cart")
        text = _("Still thinking about it? Your cart is waiting: %(items)s.") % {"items": listed}
    message_id = _send(
        customer_id=customer_id,
        channel=channel,
        purpose=Purpose.MARKETING,
        content=_content(channel, subject, text, TEMPLATES["cart"], [listed]),
        key=f"cart-reminder:{cart_id}",
        actor=actor,
    )
    return message_id, channel if message_id else ""


def _send(
    *,
    customer_id: uuid.UUID,
    channel: str,
    purpose: str,
    content: dict[str, Any],
    key: str,
    actor: str,
    order_id: str | None = None,
) -> str:
    try:
        message = message_send(
            customer_id=customer_id,
            channel=channel,
            purpose=purpose,
            content=content,
            idempotency_key=key,
            actor=actor,
            order_id=order_id,
        )
    except ChannelRuleError as exc:
        # Our own texts broke a channel rule (a very long item list in an SMS): the step itself stands.
        logger.warning("orders notification %s not queued on %s: %s (%s)", key, channel, exc.field, exc.code)
        return ""
    return str(message.id)


def _content(channel: str, subject: str, text: str, template: str, parameters: list[str]) -> dict[str, Any]:
    # On WhatsApp always the approved template: a notification may go out past the 24-hour window.
    return content_for(channel, subject=subject, text=text, template=template, parameters=parameters)


def _language(customer_id: uuid.UUID) -> str:
    language = customer_language(customer_id=customer_id)
    return language or settings.LANGUAGE_CODE
