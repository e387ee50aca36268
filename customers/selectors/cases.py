"""Reads of service cases: the inbox with its SLA clock, one case with its cross-channel thread."""

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from backoffice.messaging.selectors import message_queued_under
from backoffice.replica import read_connection

from ..models import Case, CaseMessage
from .people import customer_group_ids


def case_survey_key(case_id: uuid.UUID) -> str:
    """The idempotency key of the case's satisfaction survey (one per case)."""
    return f"case-csat-{case_id}"


def case_survey_queued(*, case_id: uuid.UUID) -> bool:
    """Whether the case's satisfaction survey went to the outbound pipeline (a survey the channel refused, or a
    customer reachable nowhere, has none)."""
    return message_queued_under(idempotency_key=case_survey_key(case_id))


def case_sla(case: Case, *, now: datetime | None = None) -> dict:
    """When the first response and the resolution are due (settings.CASES_SLA), and whether either is breached."""
    now = now or timezone.now()
    first_due = case.opened_at + settings.CASES_SLA["first_response"]
    resolution_due = case.opened_at + settings.CASES_SLA["resolution"]
    return {
        "first_response_due": first_due,
        "resolution_due": resolution_due,
        "first_response_breached": (case.first_response_at or now) > first_due,
        "resolution_breached": (case.resolved_at or now) > resolution_due,
    }


def _breached(now: datetime) -> Q:
    """Cases whose first response or resolution came (or is still missing) past its due time, in SQL."""
    first = settings.CASES_SLA["first_response"]
    resolution = settings.CASES_SLA["resolution"]
    return (
        Q(first_response_at__gt=F("opened_at") + first)
        | Q(first_response_at=None, opened_at__lt=now - first)
        | Q(resolved_at__gt=F("opened_at") + resolution)
        | Q(resolved_at=None, opened_at__lt=now - resolution)
    )


def case_list(
    *,
    status: str | None = None,
    channel: str | None = None,
    is_breached: bool | None = None,
    customer_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> QuerySet[Case]:
    """The inbox: cases filtered by status, channel (where opened), SLA breach and person; oldest open first."""
    now = now or timezone.now()
    cases = Case.objects.all()
    if status:
        cases = cases.filter(status=status)
    if channel:
        cases = cases.filter(channel=channel)
    if customer_id is not None:
        cases = cases.filter(customer_id__in=customer_group_ids(customer_id=customer_id))
    if is_breached is True:
        cases = cases.filter(_breached(now))
    elif is_breached is False:
        cases = cases.exclude(_breached(now))
    return cases.order_by("status", "opened_at", "id")


def case_get(*, case_id: uuid.UUID) -> Case | None:
    return Case.objects.filter(id=case_id).first()


def case_thread(*, case_id: uuid.UUID) -> list[CaseMessage]:
    """Every message of the case, on every channel, in the order they happened."""
    return list(CaseMessage.objects.filter(case_id=case_id).order_by("occurred_at", "position"))


def case_open_for(*, customer_id: uuid.UUID) -> Case | None:
    """The person's most recently active open case, which a new inbound message joins."""
    group = customer_group_ids(customer_id=customer_id)
    return Case.objects.filter(customer_id__in=group, status=Case.Status.OPEN).order_by("-last_message_at").first()


def case_awaiting_csat(*, customer_id: uuid.UUID, within: datetime) -> Case | None:
    """The person's case resolved since `within` whose survey is unanswered: a bare "1".."5" reply answers it."""
    group = customer_group_ids(customer_id=customer_id)
    return (
        Case.objects.filter(
            customer_id__in=group, status=Case.Status.RESOLVED, csat_score=None, resolved_at__gte=within
        )
        .order_by("-resolved_at")
        .first()
    )


def customer_open_cases(*, group: list[uuid.UUID]) -> list[Case]:
    return list(Case.objects.filter(customer_id__in=group, status=Case.Status.OPEN).order_by("-last_message_at"))


def case_count() -> int:
    return Case.objects.count()


def cases_open_between(
    *, start: datetime, end: datetime, channel: str | None = None
) -> list[tuple[datetime, datetime | None]]:
    """(opened_at, first_response_at) of the cases opened in [start, end) that are not resolved."""
    cases = Case.objects.filter(opened_at__gte=start, opened_at__lt=end).exclude(status=Case.Status.RESOLVED)
    if channel:
        cases = cases.filter(channel=channel)
    return list(cases.values_list("opened_at", "first_response_at"))


def case_csat_answers(*, start: datetime, end: datetime, channel: str | None = None) -> list[tuple[str, int]]:
    """(channel, score) of every satisfaction answer given in [start, end)."""
    answered = Case.objects.filter(csat_at__gte=start, csat_at__lt=end, csat_score__isnull=False)
    if channel:
        answered = answered.filter(channel=channel)
    return list(answered.values_list("channel", "csat_score"))


def case_service_per_channel(
    *,
    start: datetime,
    end: datetime,
    channel: str | None,
    now: datetime,
    sla_first: timedelta,
    sla_resolution: timedelta,
) -> dict[str, dict]:
    """Per channel, of the cases opened in [start, end): how many, their response and resolution times (medians in
    seconds as `first_median`/`resolution_median` on PostgreSQL, the durations as `first`/`resolution` lists
    elsewhere) and how many breached each SLA. The figures are insights'; the rows are ours to read."""
    per_channel: dict[str, dict] = defaultdict(
        lambda: {"cases": 0, "first": [], "resolution": [], "first_breaches": 0, "resolution_breaches": 0}
    )
    if connection.vendor == "postgresql":
        # Medians and breaches in the database: no row of the period travels to Python.
        for ch, cases, first_median, resolution_median, first_breaches, resolution_breaches in _service_rows_pg(
            start, end, channel, now, sla_first, sla_resolution
        ):
            per_channel[ch].update(
                cases=cases,
                first_median=first_median,
                resolution_median=resolution_median,
                first_breaches=first_breaches,
                resolution_breaches=resolution_breaches,
            )
        return per_channel
    opened = Case.objects.filter(opened_at__gte=start, opened_at__lt=end)
    if channel:
        opened = opened.filter(channel=channel)
    for ch, opened_at, first_at, resolved_at in opened.values_list(
        "channel", "opened_at", "first_response_at", "resolved_at"
    ):
        s = per_channel[ch]
        s["cases"] += 1
        if first_at is not None:
            s["first"].append(first_at - opened_at)
        if resolved_at is not None:
            s["resolution"].append(resolved_at - opened_at)
        s["first_breaches"] += (first_at or now) - opened_at > sla_first
        s["resolution_breaches"] += (resolved_at or now) - opened_at > sla_resolution
    return per_channel


def _service_rows_pg(start, end, channel, now, sla_first, sla_resolution) -> list[tuple]:
    table = Case._meta.db_table
    channel_filter = "AND channel = %(channel)s" if channel else ""
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"""
            SELECT channel, COUNT(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM first_response_at - opened_at)),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM resolved_at - opened_at)),
                   SUM(CASE WHEN COALESCE(first_response_at, %(now)s) - opened_at > %(sla_first)s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN COALESCE(resolved_at, %(now)s) - opened_at > %(sla_resolution)s THEN 1 ELSE 0 END)
            FROM {table}
            WHERE opened_at >= %(start)s AND opened_at < %(end)s {channel_filter}
            GROUP BY channel
            """,  # noqa: S608 - table name and placeholders only
            {
                "start": start,
                "end": end,
                "now": now,
                "sla_first": sla_first,
                "sla_resolution": sla_resolution,
                "channel": channel,
            },
        )
        return cursor.fetchall()
