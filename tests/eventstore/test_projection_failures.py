"""One event that a projection cannot apply never stops that projection for everybody else: it is set aside as a
ProjectionFailure (visible in the admin, retried after the fix) and the reader goes on past it."""

from datetime import UTC, datetime

import pytest

from backoffice.eventstore import projector, store
from backoffice.eventstore.models import ProjectionCheckpoint, ProjectionFailure
from customers.models import ChannelActivityDaily

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_after_commit_hooks")]

DAILY = "customers.channel_daily"


@pytest.fixture
def year_one_event(settings, thing):
    """The event the outside tester got in before times were range-checked: year 1, which no local zone east of
    UTC can show (OverflowError in localtime). Stored here by widening the accepted span for this test only."""
    settings.EVENTSTORE_EARLIEST_OCCURRED_AT = datetime(1, 1, 1, tzinfo=UTC)
    (event,) = store.append("thing-old", [thing("ancient", occurred_at=datetime(1, 1, 1, tzinfo=UTC))])
    settings.EVENTSTORE_EARLIEST_OCCURRED_AT = datetime(1970, 1, 1, tzinfo=UTC)
    return event


def test_an_event_a_projection_cannot_apply_is_set_aside_and_the_rest_are_applied(settings, thing, year_one_event):
    settings.TIME_ZONE = "Europe/Madrid"
    store.append("thing-a", [thing("before", occurred_at=datetime(2026, 11, 20, 10, tzinfo=UTC))])
    after = store.append("thing-b", [thing("after", occurred_at=datetime(2026, 11, 21, 10, tzinfo=UTC))])

    read = projector.catch_up(DAILY)

    assert read == 3
    assert ProjectionCheckpoint.objects.get(name=DAILY).position == after[0].position
    counted = {
        (row.day.isoformat(), row.count) for row in ChannelActivityDaily.objects.filter(type="test.thing_happened")
    }
    assert counted == {("2026-11-20", 1), ("2026-11-21", 1)}
    (failure,) = ProjectionFailure.objects.all()
    assert (failure.projection, failure.position, failure.event_type) == (
        DAILY,
        year_one_event.position,
        "test.thing_happened",
    )
    assert failure.error.startswith("OverflowError")
    assert failure.resolved_at is None


def test_later_commits_keep_catching_up_after_a_bad_event(settings, thing, year_one_event):
    settings.TIME_ZONE = "Europe/Madrid"
    projector.catch_up_all()
    later = store.append("thing-c", [thing("later", occurred_at=datetime(2026, 11, 22, 10, tzinfo=UTC))])

    done = projector.catch_up_all()

    assert done[DAILY] == 1
    for name in ("customers.channel_daily", "insights.rollups", "orders.carts", "customers.activity"):
        assert ProjectionCheckpoint.objects.get(name=name).position == later[0].position, name
    assert ProjectionFailure.objects.filter(position=year_one_event.position).count() == 1


def test_a_retry_that_fails_again_keeps_the_failure_and_one_after_the_fix_resolves_it(settings, year_one_event):
    settings.TIME_ZONE = "Europe/Madrid"
    projector.catch_up(DAILY)
    failure = ProjectionFailure.objects.get()

    assert projector.failure_retry(failure_id=failure.pk) is False
    failure.refresh_from_db()
    assert (failure.attempts, failure.resolved_at) == (2, None)

    settings.TIME_ZONE = "UTC"  # the "fix": year 1 is showable in UTC
    assert projector.failure_retry(failure_id=failure.pk) is True
    failure.refresh_from_db()
    assert failure.resolved_at is not None
    assert ChannelActivityDaily.objects.get(type="test.thing_happened").day.year == 1


def test_a_rebuild_sets_the_bad_event_aside_too_and_forgets_old_failures(settings, thing, year_one_event):
    settings.TIME_ZONE = "Europe/Madrid"
    store.append("thing-a", [thing("fine", occurred_at=datetime(2026, 11, 20, 10, tzinfo=UTC))])
    projector.catch_up(DAILY)

    replayed = projector.rebuild([DAILY])

    assert replayed[DAILY] == 2
    assert ProjectionFailure.objects.filter(projection=DAILY).count() == 1
    assert ChannelActivityDaily.objects.get(type="test.thing_happened").count == 1


def test_staff_see_failures_in_the_admin_and_an_administrator_retries_them(
    settings, client, staff_user, year_one_event
):
    settings.TIME_ZONE = "Europe/Madrid"
    projector.catch_up(DAILY)
    failure = ProjectionFailure.objects.get()
    admin_user = staff_user("admin")
    client.force_login(admin_user)

    listing = client.get("/admin/eventstore/projectionfailure/")
    assert listing.status_code == 200
    assert DAILY in listing.content.decode()

    settings.TIME_ZONE = "UTC"
    response = client.post(
        "/admin/eventstore/projectionfailure/", {"action": "retry", "_selected_action": [failure.pk]}, follow=True
    )
    assert response.status_code == 200
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_an_occurred_at_outside_the_accepted_span_is_refused_with_the_field_named(api_client_for):
    from tests.factories import interaction

    client = api_client_for("integration")
    for moment in ("0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z"):
        response = client.post("/api/v1/events", interaction(occurred_at=moment), format="json")

        assert response.status_code == 400, (moment, response.json())
        assert [e["field"] for e in response.json()["errors"]] == ["occurred_at"], moment
    assert store.read_all(after=0, limit=10) == []
