import pytest

from backoffice.eventstore.store import NewEvent

from . import sample_events  # noqa: F401 - registers the test event types


@pytest.fixture
def thing():
    def make(label: str = "a thing", **kwargs) -> NewEvent:
        data = {"label": label, **kwargs.pop("data", {})}
        return NewEvent(type="test.thing_happened", data=data, channel=kwargs.pop("channel", "web"), **kwargs)

    return make


@pytest.fixture
def no_after_commit_hooks(settings):
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
