"""Money and ratios, one way everywhere: amounts in event data, projections and figures are Decimals rounded to cents
(EUR), ratios Decimals rounded to 4 places, and None where a ratio has nothing to divide by.

It lives at the bottom layer (next to `times`) because every app above counts money: order totals, lifetime value,
campaign cost and ROI, CAC. The API renders both as decimal strings (DESIGN.md section 7).
"""

from decimal import Decimal
from typing import Final

Number = Decimal | int | float | str | None

CENT: Final = Decimal("0.01")
RATIO: Final = Decimal("0.0001")


def money(value: Number) -> Decimal:
    """An amount in cents; None and "" are zero."""
    return Decimal(str(value or 0)).quantize(CENT)


def ratio(numerator: Number, denominator: Number) -> Decimal | None:
    """numerator / denominator to 4 places; None when the denominator is zero or missing."""
    if not denominator:
        return None
    return (Decimal(str(numerator)) / Decimal(str(denominator))).quantize(RATIO)


def per(numerator: Number, denominator: Number) -> Decimal | None:
    """A money amount per unit, in cents; None when there is no unit."""
    if not denominator:
        return None
    return (Decimal(str(numerator)) / Decimal(str(denominator))).quantize(CENT)
