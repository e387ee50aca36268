"""Commands of the integrations app: translate what the doors let in and hand it to the customers and orders
services, in one transaction per call or delivery."""

from .shops import (
    ShopWebhookRefused,
    dead_letter_replay,
    oversell_alert_resolve,
    shop_connection_save,
    shop_webhook_receive,
)
from .sources import NewSource, SourceRefused, tracking_source_create, tracking_source_for_key, tracking_source_revoke
from .tracking import (
    RefusedMessage,
    TrackingRefused,
    TrackingResult,
    tracking_batch_receive,
    tracking_call_receive,
    tracking_messages_ingest,
    tracking_messages_translate,
)

__all__ = [
    "NewSource",
    "RefusedMessage",
    "ShopWebhookRefused",
    "SourceRefused",
    "TrackingRefused",
    "TrackingResult",
    "dead_letter_replay",
    "oversell_alert_resolve",
    "shop_connection_save",
    "shop_webhook_receive",
    "tracking_batch_receive",
    "tracking_call_receive",
    "tracking_messages_ingest",
    "tracking_messages_translate",
    "tracking_source_create",
    "tracking_source_for_key",
    "tracking_source_revoke",
]
