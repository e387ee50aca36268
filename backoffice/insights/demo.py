"""Demo data for the insights: what marketing spent to acquire customers, per channel and month, called by
`manage.py seed_demo` once the customers are in.

Without it the demo's dashboard said CAC 0,00 € and every channel's acquisition ROI was undefined: the spend is
what staff enter by hand (admin, "Acquisition spend"), and the demo had entered none. Each paid channel is given a
cost per customer it acquired that month (a retailer's usual order of magnitude: social cheapest, app installs
dearest), varied by up to a quarter from month to month; stores and the phone acquire without a spend of their own.
Deterministic: the same directory gives the same amounts, and setting them again changes nothing.
"""

import hashlib
from decimal import Decimal

from django.db.models import Count, DateField
from django.db.models.functions import TruncMonth

from customers.demo_history import MADRID
from customers.selectors import customers_all

from .services import acquisition_spend_set

ACTOR = "seed_demo"
# Euros per customer acquired, before the month's variation.
COST_PER_CUSTOMER = {
    "web": Decimal("18"),
    "app": Decimal("26"),
    "instagram": Decimal("12"),
    "facebook": Decimal("15"),
    "email": Decimal("5"),
    "sms": Decimal("6"),
    "whatsapp": Decimal("8"),
    "push": Decimal("4"),
}


def seed_spend() -> int:
    """Set each paid channel's acquisition spend for every month it acquired customers. Returns how many
    (channel, month) amounts were set."""
    acquired = (
        customers_all()
        .filter(acquisition_channel__in=COST_PER_CUSTOMER)
        .annotate(month=TruncMonth("registered_at", output_field=DateField(), tzinfo=MADRID))
        .values("acquisition_channel", "month")
        .annotate(customers=Count("id"))
        .order_by("month", "acquisition_channel")
    )
    for row in acquired:
        channel, month = row["acquisition_channel"], row["month"]
        amount = COST_PER_CUSTOMER[channel] * row["customers"] * _variation(channel, month.isoformat())
        acquisition_spend_set(channel=channel, month=month, amount=amount.quantize(Decimal("0.01")), actor=ACTOR)
    return len(acquired)


def _variation(channel: str, month: str) -> Decimal:
    """0.75 to 1.25, fixed per channel and month (a hash, not a random draw: re-runs set the same amount)."""
    digest = int(hashlib.sha256(f"{channel}:{month}".encode()).hexdigest()[:8], 16)
    return Decimal(75 + digest % 51) / 100
