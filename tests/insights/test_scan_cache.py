"""The customer-level figures are computed once per state of insights.rollups (cached by its checkpoint's stamp): a
failed event retried changes the tables without moving the checkpoint, and must not leave a stale scan behind."""

from datetime import date

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import ProjectionFailure
from backoffice.insights.projections import InsightsRollups
from backoffice.insights.selectors import metrics_report

from .conftest import Shop

pytestmark = pytest.mark.django_db


def test_the_cached_customer_scan_is_not_stale_after_a_failed_event_is_retried(insights_settings, monkeypatch):
    s = Shop()
    s.register("A", "web", "2026-01-05")
    s.order("o1", "A", "web", "2026-01-06", "100.00")
    projector.catch_up_all(["insights.rollups"])
    s.order("o2", "A", "web", "2026-01-08", "50.00")
    # A passing failure (a lock timeout) while o2 is applied: set aside, the checkpoint moves on.
    with monkeypatch.context() as patched:
        patched.setattr(InsightsRollups, "apply", lambda self, events: (_ for _ in ()).throw(RuntimeError("timeout")))
        projector.catch_up("insights.rollups")
    (failure,) = ProjectionFailure.objects.filter(projection="insights.rollups")
    period = {"start": date(2026, 1, 1), "end": date(2026, 1, 31)}
    metrics_report(**period)  # someone opens the dashboard: the scan is cached under the checkpoint

    assert projector.failure_retry(failure_id=failure.pk)
    report = metrics_report(**period)

    # The rollups (not cached) see o2; the customer-level figures (cached scan) must see it too.
    assert report["revenue"]["total"]["net"] == 150
    assert report["revenue"]["by_acquisition_channel"][0]["net"] == 150
    assert report["retention"]["repeat_purchase"]["repeat_customers"] == 1
