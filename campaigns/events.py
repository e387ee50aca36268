"""Event types written by campaigns: the lifecycle of a campaign, on stream "campaign-<id>". The worksheet itself is
a staff-edited plan (a mutable row); what it was when approved and launched is recorded here."""

from pydantic import Field

from backoffice.eventstore.schema import EventData


class _CampaignEvent(EventData):
    campaign_id: str = Field(min_length=1, max_length=64)


class CampaignApproved(_CampaignEvent):
    type_name = "campaign.approved"
    approved_by: str = Field(max_length=100)
    author: str = Field(max_length=100)
    # The worksheet as approved (no personal data: it is about a message, not a person).
    worksheet: dict


class CampaignLaunched(_CampaignEvent):
    type_name = "campaign.launched"
    channels: list[str]
    channel_mode: str
    holdout_share: str
    is_scheduled: bool = False


class CampaignCompleted(_CampaignEvent):
    type_name = "campaign.completed"
    audience: int = Field(ge=0)
    holdout: int = Field(ge=0)
    messages: int = Field(ge=0)


class CampaignCancelled(_CampaignEvent):
    type_name = "campaign.cancelled"
    reason: str = Field(default="", max_length=500)
