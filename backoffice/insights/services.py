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


def _spend_check(*, channel: str, amount: Decimal) -> None:
    if channel not in CHANNELS:
        raise SpendInvalid("channel", f"unknown channel {channel!r}", "unknown_channel")
    if amount < 0:
        raise SpendInvalid("amount", "must not be negative", "min_value")


def _taken_check(*, spend_id: int, channel: str, month: date) -> None:
    if AcquisitionSpend.objects.filter(channel=channel, month=month).exclude(pk=spend_id).exists():
        raise SpendInvalid("month", f"{channel} already has a spend for {month:%Y-%m}", "taken")


def acquisition_spend_check(*, spend_id: int | None, channel: str, month: date, amount: Decimal) -> None:
    """Raise SpendInvalid as saving this spend now would (a new row: `spend_id` None), writing nothing: a form shows
    the reason on its field before the save, which checks again under its lock."""
    _spend_check(channel=channel, amount=amount)
    if spend_id is not None:
        _taken_check(spend_id=spend_id, channel=channel, month=month.replace(day=1))


def acquisition_spend_set(*, channel: str, month: date, amount: Decimal, actor: str) -> AcquisitionSpend:
    """Set (not add to) what was spent acquiring customers through `channel` in `month`."""
    _spend_check(channel=channel, amount=amount)
    with transaction.atomic():
        spend, _ = AcquisitionSpend.objects.update_or_create(
            channel=channel, month=month.replace(day=1), defaults={"amount": amount, "updated_by": actor}
        )
    return spend


def acquisition_spend_change(
    *, spend_id: int, channel: str, month: date, amount: Decimal, actor: str
) -> AcquisitionSpend:
    """Correct one spend row: a new channel or month moves its amount there (the old channel and month keep
    nothing, so CAC counts it once). A channel and month that already have a row of their own are refused rather
    than overwritten: that row is the one to change."""
    _spend_check(channel=channel, amount=amount)
    month = month.replace(day=1)
    with transaction.atomic():
        spend = AcquisitionSpend.objects.select_for_update().get(pk=spend_id)
        _taken_check(spend_id=spend_id, channel=channel, month=month)
        spend.channel, spend.month, spend.amount, spend.updated_by = channel, month, amount, actor
        spend.save(update_fields=["channel", "month", "amount", "updated_by", "updated_at"])
    return spend
