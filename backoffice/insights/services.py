"""The one thing staff change in insights: acquisition spend per channel and month."""

from datetime import date
from decimal import Decimal

from django.db import transaction

from backoffice.eventstore.schema import CHANNELS

from .models import AcquisitionSpend


class SpendInvalid(ValueError):
    def __init__(self, field: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.field, self.message, self.code = field, message, code


def acquisition_spend_set(*, channel: str, month: date, amount: Decimal, actor: str) -> AcquisitionSpend:
    """Set (not add to) what was spent acquiring customers through `channel` in `month`."""
    if channel not in CHANNELS:
        raise SpendInvalid("channel", f"unknown channel {channel!r}", "unknown_channel")
    if amount < 0:
        raise SpendInvalid("amount", "must not be negative", "min_value")
    with transaction.atomic():
        spend, _ = AcquisitionSpend.objects.update_or_create(
            channel=channel, month=month.replace(day=1), defaults={"amount": amount, "updated_by": actor}
        )
    return spend
