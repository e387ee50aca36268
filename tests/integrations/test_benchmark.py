"""benchmarks/integrations.py at a tiny size, on whichever database the suite runs on: it runs, its counts hold
(every event and order stored once, a resend writes nothing). No timing is asserted."""

import argparse

import pytest
from django.test import override_settings

from benchmarks import integrations

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_integrations_benchmark_runs_at_a_tiny_size():
    args = argparse.Namespace(events=200, batch=50, orders=6, processes=1)

    with override_settings():  # the benchmark changes settings for itself: they are put back here
        figures, ok = integrations.run(args)

    assert ok
    names = [name for name, _, _ in figures]
    assert any(name.startswith("POST /v1/batch") for name in names)
    assert any(name.startswith("Shopify orders/create") for name in names)
    resent = next(outcome for name, _, outcome in figures if "resent" in name)
    assert resent == "0 events written"
