"""Money on the staff pages, written one way everywhere: as the timeline and the compensation labels write it
(customers.wording.money_text: "39,80 €" in Spanish, "39.80 €" in English)."""

from django import template

from customers.wording import money_text

register = template.Library()


@register.filter
def money(amount, currency: str | None = "EUR") -> str:
    """{{ order.total|money:order.currency }}; "" when there is no amount."""
    return money_text(amount, currency)
