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
    timeout, provider 5xx or 429); otherwise the provider refused the message for good. `outcome_unknown`: the
    request may have reached the provider, which may have sent it (a timeout waiting for its answer, a connection
    dropped after the request was written): sending it again may deliver it twice.

    `code`: the provider's error code, when it gave one. What the refusal says of the recipient, which the drain acts
    on exactly as on a status callback saying it (services.status.status_consequences_apply):
    `is_undeliverable`, the address cannot receive (an invalid or landline number); `withdraws_marketing`, the
    person opted out at the provider (replied STOP to Twilio)."""

    def __init__(
        self,
        reason: str,
        *,
        is_temporary: bool,
        outcome_unknown: bool = False,
        code: str = "",
        is_undeliverable: bool = False,
        withdraws_marketing: bool = False,
    ):
        self.reason = reason
        self.is_temporary = is_temporary
        self.outcome_unknown = outcome_unknown
        self.code = code
        self.is_undeliverable = is_undeliverable
        self.withdraws_marketing = withdraws_marketing
        super().__init__(reason)


def unreached(reason: str, exc: BaseException) -> DeliveryError:
    """A network failure as a temporary DeliveryError, saying whether the provider may have the message: only a
    failure to connect at all (refused, a name that does not resolve, a connection or TLS handshake that timed out
    or failed) proves it never left; anything later (a read timeout, a reset) leaves the outcome unknown."""
    return DeliveryError(reason, is_temporary=True, outcome_unknown=not _never_connected(exc))


def _never_connected(exc: BaseException) -> bool:
    import socket
    import ssl

    from requests.exceptions import ConnectTimeout
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    never = (ConnectionRefusedError, socket.gaierror, ssl.SSLError, ConnectTimeout, ConnectTimeoutError)
    never += (NewConnectionError, NameResolutionError)
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        error = pending.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, never):
            return True
        # The chain a library wraps it in: causes, contexts, urllib3's `reason`, exceptions passed as arguments.
        pending += [error.__cause__, error.__context__, getattr(error, "reason", None), *error.args]
    return False
