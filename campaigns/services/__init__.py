"""Commands of campaigns: the only code that changes segments, campaigns, audiences and deliveries."""

from ..journeys import services as journey_services
from ..journeys.services import *  # noqa: F403 - the journeys' commands are campaigns' commands too
from .campaigns import (
    CampaignRefused,
    campaign_approve,
    campaign_cancel,
    campaign_complete_if_done,
    campaign_launch,
    campaign_save,
    campaign_save_check,
    campaigns_launch_due,
)
from .fan_out import (
    FanOutResult,
    campaign_fan_out_batch,
    campaign_snapshot,
    campaigns_due_batches,
    campaigns_snapshot_unfinished,
)
from .segments import segment_save

__all__ = [
    "CampaignRefused",
    "FanOutResult",
    "campaign_approve",
    "campaign_cancel",
    "campaign_complete_if_done",
    "campaign_fan_out_batch",
    "campaign_launch",
    "campaign_save",
    "campaign_save_check",
    "campaign_snapshot",
    "campaigns_due_batches",
    "campaigns_launch_due",
    "campaigns_snapshot_unfinished",
    "segment_save",
]
__all__ += journey_services.__all__
