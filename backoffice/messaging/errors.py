"""Errors of the messaging app: a send refused before anything is written, a signature that does not verify, and
a provider's refusal (temporary or not)."""


class ChannelRuleError(ValueError):
    """A message breaks a channel rule (SMS too long, WhatsApp template missing, email subject missing...).

    Raised by `message_send` before anything is written; `field` names the offending member (`content.subject`), so
    callers turn it into a 400 that names the field.
    """

    def __init__(self, field: str, message: str, code: str = "invalid", *, index: int | None = None):
        self.field = field
        self.message = message
        self.code = code
        # The message's position in a `messages_send` batch (None for `message_send`).
        self.index = index
        super().__init__(f"{field}: {message}")


class SignatureInvalid(Exception):
    """A webhook's X-Signature is missing, malformed, too old, or does not match the channel's secret."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class DeliveryError(Exception):
    """A backend could not hand the message to its provider. `is_temporary`: worth retrying later (network error,
    timeout, provider 5xx or 429); otherwise the provider refused the message for good."""

    def __init__(self, reason: str, *, is_temporary: bool):
        self.reason = reason
        self.is_temporary = is_temporary
        super().__init__(reason)
