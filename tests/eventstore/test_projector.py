"""Projections: inline ones commit with the append; async ones catch up from a checkpoint; all rebuild."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from backoffice.eventstore import projector, store
from backoffice.eventstore.models import Event, ProjectionCheckpoint
from backoffice.eventstore.projector import ALL_TYPES, ASYNC, INLINE, Projection, check_event_types, handles
from backoffice.eventstore.schema import EventData

from .sample_events import SecretNoted, ThingHappened

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_after_commit_hooks")]

seen_by_async: list[int] = []


class ExplodingInline(Projection):
    name = "tests.exploding_inline"
    mode = INLINE

    @handles(ThingHappened)
    def thing(self, event):
        if event.data["label"] == "explode":
            raise RuntimeError("projection failed")


class RecordingAsync(Projection):
    name = "tests.recording_async"
    mode = ASYNC

    @handles(ThingHappened)
    def thing(self, event):
        seen_by_async.append(event.position)

    def reset(self):
        seen_by_async.clear()


@pytest.fixture(autouse=True)
def _clear_seen():
    seen_by_async.clear()


def test_a_failing_inline_projection_rolls_the_append_back(thing):
    with pytest.raises(RuntimeError):
        store.append("thing-1", [thing("fine"), thing("explode")])

    assert Event.objects.count() == 0


def test_catch_up_applies_each_event_once_and_moves_the_checkpoint(thing):
    events = store.append("thing-1", [thing(str(n)) for n in range(5)])

    read = projector.catch_up(RecordingAsync.name, batch_size=2)
    again = projector.catch_up(RecordingAsync.name)

    assert read >= 5
    assert again == 0
    assert seen_by_async == [e.position for e in events]
    assert ProjectionCheckpoint.objects.get(name=RecordingAsync.name).position == events[-1].position


def test_catch_up_resumes_after_the_checkpoint(thing):
    first = store.append("thing-1", [thing("a")])
    projector.catch_up(RecordingAsync.name)
    second = store.append("thing-1", [thing("b")])

    projector.catch_up(RecordingAsync.name)

    assert seen_by_async == [first[0].position, second[0].position]


def test_after_commit_hooks_run_only_once_the_append_commits(settings, thing, django_capture_on_commit_callbacks):
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = ["tests.eventstore.test_projector.record_hook_call"]
    hook_calls.clear()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        store.append("thing-1", [thing()])
    assert hook_calls == []

    for callback in callbacks:
        callback()
    assert hook_calls == ["called"]


def test_a_refused_append_registers_no_after_commit_work(thing, django_capture_on_commit_callbacks):
    store.append("thing-1", [thing()])

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Exception):  # noqa: B017, PT011
        store.append("thing-1", [thing()], expected_version=0)

    assert callbacks == []


def test_rebuild_replays_the_log_through_the_named_projection(thing):
    events = store.append("thing-1", [thing(str(n)) for n in range(3)])
    projector.catch_up(RecordingAsync.name)
    seen_by_async.append(-1)  # a read model gone wrong

    call_command("rebuild_projections", RecordingAsync.name, verbosity=0)

    assert seen_by_async == [e.position for e in events]


def test_a_rebuild_shows_its_progress_and_ends_with_its_result(thing):
    store.append("thing-1", [thing(str(n)) for n in range(12)])
    seen: list[tuple[int, int]] = []

    projector.rebuild([RecordingAsync.name], batch_size=5, progress=lambda done, total: seen.append((done, total)))
    out = io.StringIO()
    call_command("rebuild_projections", RecordingAsync.name, stdout=out)

    total = seen[-1][1]
    assert seen[-1][0] == total >= 12
    assert all(done <= grand for done, grand in seen)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("replayed ")
    assert lines[0].endswith("(100%)")
    assert f"{RecordingAsync.name}: " in out.getvalue()
    assert lines[-1].startswith("rebuilt 1 projection(s) in ")


hook_calls: list[str] = []


def record_hook_call() -> None:
    hook_calls.append("called")


def test_lanes_group_the_async_projections_as_configured_and_the_rest_share_one_more(settings):
    settings.EVENTSTORE_PROJECTION_LANES = [["customers.activity", "no.such"], ["insights.rollups", "orders.carts"]]

    lanes = projector.lanes()

    asynchronous = {p.name for p in projector.registered_projections(ASYNC)}
    assert lanes[:2] == [["customers.activity"], ["insights.rollups", "orders.carts"]]
    assert set(lanes[2]) == asynchronous - {"customers.activity", "insights.rollups", "orders.carts"}
    assert sorted(name for lane in lanes for name in lane) == sorted(asynchronous)


def test_each_lane_is_woken_with_its_own_catch_up(settings, thing, monkeypatch):
    from backoffice.eventstore import tasks

    settings.EVENTSTORE_PROJECTION_LANES = [[RecordingAsync.name]]
    woken: list = []
    monkeypatch.setattr(tasks.catch_up_projections_task, "delay", lambda names=None: woken.append(names))
    events = store.append("thing-1", [thing("a")])

    tasks.wake_async_projections()
    done = tasks.catch_up_projections_task(woken[0])

    assert woken == projector.lanes()
    assert woken[0] == [RecordingAsync.name]
    assert done == {RecordingAsync.name: 1}
    assert seen_by_async == [events[0].position]


def test_a_catch_up_naming_a_projection_this_process_does_not_have_still_catches_up_the_others(thing, caplog):
    events = store.append("thing-1", [thing(str(n)) for n in range(2)])
    seen_by_async.clear()

    done = projector.catch_up_all([RecordingAsync.name, "a.projection.of.another.release"])

    assert done == {RecordingAsync.name: len(events)}
    assert seen_by_async == [e.position for e in events]
    assert "a.projection.of.another.release" in caplog.text


def test_a_projection_names_the_types_it_handles_by_their_event_classes():
    class Unregistered(Projection):
        event_types = (SecretNoted,)

        @handles(ThingHappened)
        def thing(self, event):
            pass

    assert Unregistered._handlers == {"test.thing_happened": "thing"}
    assert Unregistered().wants("test.thing_happened")
    assert Unregistered().wants("test.secret_noted")
    assert not Unregistered().wants("test.renamed_field")


def test_an_event_class_without_a_type_name_cannot_be_handled():
    with pytest.raises(TypeError, match="declares no type_name"):
        handles(EventData)


def test_the_system_check_refuses_a_type_name_no_event_declares(request):
    class Misspelt(Projection):
        name = "tests.misspelt"
        mode = ASYNC
        event_types = ("test.thing_hapened", ALL_TYPES)

        @handles("test.secret_noted")
        def noted(self, event):
            pass

    request.addfinalizer(lambda: projector._projections.pop(Misspelt.name))

    errors = [error for error in check_event_types() if error.obj is Misspelt]

    assert [error.id for error in errors] == ["eventstore.E001"]
    assert "test.thing_hapened" in errors[0].msg
    assert "test.secret_noted" not in errors[0].msg
    with pytest.raises(SystemCheckError, match="eventstore.E001"):
        call_command("check")


def test_every_projection_of_the_project_handles_declared_event_types():
    assert check_event_types() == []
    call_command("check", "--fail-level", "ERROR")
