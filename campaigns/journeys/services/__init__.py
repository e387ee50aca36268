"""Commands of journeys: the plan (save, publish, pause), the process manager over the log, the step workers and
the simulator."""

from .consumer import journeys_consume, journeys_lag
from .dates import journeys_enter_dates
from .plans import JourneyRefused, journey_pause, journey_problems, journey_publish, journey_save
from .segments import journeys_enter_segments
from .simulate import journey_simulate
from .steps import journey_runs_advance, journey_runs_due_count

__all__ = [
    "JourneyRefused",
    "journey_pause",
    "journey_problems",
    "journey_publish",
    "journey_runs_advance",
    "journey_runs_due_count",
    "journey_save",
    "journey_simulate",
    "journeys_consume",
    "journeys_enter_dates",
    "journeys_enter_segments",
    "journeys_lag",
]
