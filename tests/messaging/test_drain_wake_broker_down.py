"""The drain's wake-up after commit is robust: with the broker down at commit, the committed work stands (the drain
on beat's schedule sends it) and the caller goes on; the failure is logged, not raised."""

import logging

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from backoffice.messaging.services.send import wake_drain_after_commit
from backoffice.messaging.tasks import messages_drain_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_broker_down_at_commit_is_logged_and_does_not_fail_the_committed_transaction(monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6380. Connection refused.")

    monkeypatch.setattr(messages_drain_task, "delay", broker_down)  # the edge: Redis refusing the connection

    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"), transaction.atomic():
        wake_drain_after_commit()

    assert "wake_drain_after_commit" in caplog.text
