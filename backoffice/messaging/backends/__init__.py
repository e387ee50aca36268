"""Outbound backends, chosen per channel by MESSAGING_BACKENDS: a short name (console, file, memory, smtp, webhook,
anymail, twilio, meta)
or the dotted path of a Backend subclass.

A backend hands one message to its provider and returns the provider's message id, or raises DeliveryError
(temporary: worth retrying; or not). `honours_idempotency_key` says whether sending the same key twice delivers
once; only such backends are retried after a worker died in the middle of a send (see services.pipeline).
"""

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import Backend, OutgoingMessage

__all__ = ["Backend", "OutgoingMessage", "backend_for"]

_NAMES = {
    "console": "backoffice.messaging.backends.local.ConsoleBackend",
    "file": "backoffice.messaging.backends.local.FileBackend",
    "memory": "backoffice.messaging.backends.local.MemoryBackend",
    "smtp": "backoffice.messaging.backends.smtp.SmtpBackend",
    "webhook": "backoffice.messaging.backends.webhook.WebhookBackend",
    "anymail": "backoffice.messaging.backends.anymail.AnymailBackend",
    "twilio": "backoffice.messaging.backends.twilio.TwilioBackend",
    "meta": "backoffice.messaging.backends.meta.MetaBackend",
}


def backend_for(channel: str) -> Backend:
    return _backend(settings.MESSAGING_BACKENDS.get(channel) or "file")


@lru_cache(maxsize=32)
def _backend(name: str) -> Backend:
    return import_string(_NAMES.get(name, name))()
