"""Commands of messaging: the only code that changes messages (append events, move the outbox row, one
transaction each)."""

from .channel_settings import channel_setting_save
from .inbound import provider_inbound_receive
from .pipeline import DrainResult, message_requeue, messages_drain, messages_release_deferred
from .provider_test import provider_test_send
from .send import MessageRequest, message_send, messages_send
from .status import StatusResult, UnknownMessage, message_status_record
from .withdraw import messages_withdraw as messages_withdraw  # re-exported

__all__ = [
    "DrainResult",
    "MessageRequest",
    "StatusResult",
    "UnknownMessage",
    "channel_setting_save",
    "message_requeue",
    "message_send",
    "message_status_record",
    "messages_send",
    "messages_drain",
    "messages_release_deferred",
    "provider_inbound_receive",
    "provider_test_send",
]
