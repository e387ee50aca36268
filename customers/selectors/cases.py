"""Reads of service cases: the inbox with its SLA clock, one case with its cross-channel thread."""

import uuid
from datetime import datetime

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ..models import Case, CaseMessage
from .people import customer_group_ids


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
