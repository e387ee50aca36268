"""Backends that deliver nowhere but here: the console, files (development) and memory (tests, benchmarks)."""

import hashlib
import logging
import os
import threading
import uuid

import orjson
from django.conf import settings

from .base import Backend, OutgoingMessage

logger = logging.getLogger(__name__)


class ConsoleBackend(Backend):
    """Logs that a message would be sent: ids only, since content and address are personal data."""

    name = "console"

    def send(self, message: OutgoingMessage) -> str:
        logger.info("message %s on %s (%s) would be sent", message.message_id, message.channel, message.purpose)
        return f"console-{message.message_id}"


class FileBackend(Backend):
    """One JSON file per message in MESSAGING_FILE_DIR/<channel>/, named by the idempotency key's hash and
    created exclusively, so the same key is written once however often it is sent (it honours keys)."""

    name = "file"
    honours_idempotency_key = True

    def send(self, message: OutgoingMessage) -> str:
        directory = settings.MESSAGING_FILE_DIR / message.channel
        directory.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        path = directory / f"{name}.json"
        payload = {
            "message_id": message.message_id,
            "idempotency_key": message.idempotency_key,
            "channel": message.channel,
            "purpose": message.purpose,
            "to": message.to,
            "from": message.sender,
            "content": message.content,
        }
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return f"file-{name}"
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
        return f"file-{name}"


class MemoryBackend(Backend):
    """Keeps messages in a process-wide list (`MemoryBackend.outbox`), deduplicated by idempotency key."""

    name = "memory"
    honours_idempotency_key = True
    outbox: list[OutgoingMessage] = []  # noqa: RUF012 - shared on purpose, like django.core.mail.outbox
    _by_key: dict[str, str] = {}  # noqa: RUF012
    _lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> str:
        with self._lock:
            known = self._by_key.get(message.idempotency_key)
            if known is not None:
                return known
            provider_id = f"mem-{uuid.uuid4().hex}"
            self._by_key[message.idempotency_key] = provider_id
            self.outbox.append(message)
            return provider_id

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.outbox.clear()
            cls._by_key.clear()
