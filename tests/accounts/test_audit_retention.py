"""The audit of reads of personal data is kept ACCOUNTS_AUDIT_RETENTION_DAYS (default 365) and then purged by beat,
in batches: rows past the period go, younger ones stay, and 0 keeps everything."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from backoffice.accounts.models import PersonalDataAccess
from backoffice.accounts.services import personal_data_accesses_purge
from backoffice.accounts.tasks import personal_data_accesses_purge_task

pytestmark = pytest.mark.django_db


def _accesses(*ages_in_days: float) -> list[int]:
    now = timezone.now()
    rows = [
        PersonalDataAccess(
            at=now - timedelta(days=age), actor_username="ana", customer_id=uuid.uuid4(), surface="api.customer"
        )
        for age in ages_in_days
    ]
    return [row.id for row in PersonalDataAccess.objects.bulk_create(rows)]


def test_the_default_retention_is_a_year_and_beat_purges_hourly():
    assert settings.ACCOUNTS_AUDIT_RETENTION_DAYS == 365
    entry = settings.CELERY_BEAT_SCHEDULE["accounts-personal-data-accesses-purge"]
    assert entry["task"] == personal_data_accesses_purge_task.name
    assert entry["schedule"] == timedelta(hours=1)


def test_rows_older_than_the_retention_are_purged_in_batches_and_younger_ones_stay(settings):
    settings.ACCOUNTS_AUDIT_RETENTION_DAYS = 30
    old = _accesses(*[31 + n for n in range(7)])
    young = _accesses(1, 29.9)

    deleted = personal_data_accesses_purge(batch_size=3)  # 3 + 3 + 1

    assert deleted == len(old)
    assert sorted(PersonalDataAccess.objects.values_list("id", flat=True)) == sorted(young)


def test_the_beat_task_purges_with_the_configured_period(settings):
    settings.ACCOUNTS_AUDIT_RETENTION_DAYS = 10
    _accesses(11, 12)
    young = _accesses(9)

    assert personal_data_accesses_purge_task.apply().result == 2

    assert list(PersonalDataAccess.objects.values_list("id", flat=True)) == young


def test_a_retention_of_zero_keeps_every_row(settings):
    settings.ACCOUNTS_AUDIT_RETENTION_DAYS = 0
    _accesses(4000)

    assert personal_data_accesses_purge() == 0
    assert PersonalDataAccess.objects.count() == 1
