"""Channel settings changed by operations at run time (the admin)."""

from ..models import ChannelSetting


def channel_setting_save(*, setting: ChannelSetting, actor: str) -> ChannelSetting:
    """Validate and save a channel's settings; the pipeline reads them on its next batch."""
    setting.updated_by = actor[:100]
    setting.full_clean()
    setting.save()
    return setting
