"""Commands of campaigns: the only code that changes segments, campaigns, audiences and deliveries."""

from ..journeys.services import (
    JourneyRefused,
    journey_pause,
    journey_problems,
    journey_publish,
    journey_runs_advance,
    journey_runs_due_count,
    journey_save,
    journey_simulate,
    journeys_consume,
    journeys_enter_segments,
    journeys_lag,
)
from .campaigns import (
    CampaignRefused,
    campaign_approve,
    campaign_cancel,
    campaign_complete_if_done,
    campaign_launch,
    campaign_save,
    campaigns_launch_due,
    segment_save,
)
from .fan_out import (
    FanOutResult,
    campaign_fan_out_batch,
    campaign_snapshot,
    campaigns_due_batches,
    campaigns_snapshot_unfinished,
)

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
    "journeys_enter_segments",
    "journeys_lag",
    "CampaignRefused",
    "FanOutResult",
    "campaign_approve",
    "campaign_cancel",
    "campaign_complete_if_done",
    "campaign_fan_out_batch",
    "campaign_launch",
    "campaign_save",
    "campaign_snapshot",
    "campaigns_due_batches",
    "campaigns_launch_due",
    "campaigns_snapshot_unfinished",
    "segment_save",
]
