"""Reads of the integrations app for other apps."""

from django.db.models import Count

from .models import DeadLetter, DeadLetterStatus, Origin


def dead_letters_pending_by_origin() -> dict[str, int]:
    """Deliveries set aside (valid but not applicable yet) and not replayed, per origin: what /metrics shows as dead
    letters of the integrations (every origin listed, 0 when it has none)."""
    pending = (
        DeadLetter.objects.filter(status=DeadLetterStatus.PENDING)
        .values_list("platform")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {origin: 0 for origin in Origin.values} | dict(pending)
