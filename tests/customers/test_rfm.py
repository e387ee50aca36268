"""RFM scores from fixed thresholds (settings.CUSTOMER_RFM_THRESHOLDS)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from customers.selectors import rfm_scores

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days_ago", "orders", "value", "code"),
    [
        (3, 12, "2000.00", "555"),
        (30, 1, "99.99", "511"),
        (31, 2, "100.00", "422"),
        (200, 5, "700", "244"),
        (400, 3, "300", "133"),
    ],
)
def test_scores_follow_the_thresholds(days_ago, orders, value, code):
    scores = rfm_scores(last_order_at=NOW - timedelta(days=days_ago), order_count=orders, value=Decimal(value), now=NOW)

    assert scores.code == code


def test_a_customer_without_orders_scores_zero():
    assert rfm_scores(last_order_at=None, order_count=0, value=Decimal("0"), now=NOW).code == "000"
