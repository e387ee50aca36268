"""GET /api/v1/events under parallel writers (PostgreSQL): a client that starts from the beginning or from a position,
follows `next` and, at the end, polls its `resume` link, reads every event once, including one whose transaction
began first and commits last (DESIGN.md section 3: never skip)."""

import threading

import pytest
from django.db import close_old_connections, connection, transaction

from backoffice.accounts.models import Role
from backoffice.eventstore import store
from tests.eventstore import sample_events  # noqa: F401 - registers test.thing_happened

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def thing(label):
    return store.NewEvent(type="test.thing_happened", data={"label": label}, channel="web")


@pytest.mark.parametrize("start", [{}, {"after": "from-first"}], ids=["from-the-start", "after-a-position"])
def test_a_client_following_the_log_reads_a_late_commit_once(api_client_for, settings, start):
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    client = api_client_for(Role.INTEGRATION)
    (first,) = store.append("thing-0", [thing("first")])
    store.append("thing-1", [thing("before")])
    if start:
        start = {"after": first.position}
    appended, release, slow = threading.Event(), threading.Event(), []

    def slow_writer():
        close_old_connections()
        try:
            with transaction.atomic():
                slow.extend(store.append("thing-slow", [thing("slow")]))
                appended.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert appended.wait(timeout=30)
        (fast,) = store.append("thing-fast", [thing("fast")])  # commits while the slow one is still open
        assert fast.position > slow[0].position
        page = client.get("/api/v1/events", {**start, "limit": 2}).json()
    finally:
        release.set()
        writer.join(timeout=30)

    seen = []
    for _ in range(6):  # follow `next`; at the end for now, poll `resume`
        seen += [row["data"]["label"] for row in page["results"]]
        page = client.get(page["next"] or page["resume"]).json()

    assert sorted(seen) == sorted(["before", "slow", "fast"] if start else ["first", "before", "slow", "fast"])
