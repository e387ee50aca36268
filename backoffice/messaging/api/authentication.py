"""Provider webhooks authenticate by their HMAC signature, not by a token.

A request carrying `X-Signature` for a known channel is verified (backoffice.messaging.signing.verify); if it holds,
the caller is that channel's provider, with the integration role; if not, 401 and nothing is read further. A
request without the header falls through to the other authentication classes (and then needs a signature anyway:
see SignedWebhookMixin).
"""

from types import SimpleNamespace

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from backoffice.accounts.roles import Role
from backoffice.api.problems import Problem

from .. import signing
from ..errors import SignatureInvalid
from ..events import OUTBOUND_CHANNELS


class WebhookProvider:
    """The principal of a verified webhook: the provider of one channel, acting with the integration role."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False

    def __init__(self, channel: str):
        self.channel = channel
        self.pk = self.id = f"webhook:{channel}"
        self.staff_profile = SimpleNamespace(role=Role.INTEGRATION, location_code="")

    def __str__(self) -> str:
        return self.pk


class VerifiedSignature(str):
    """request.auth of a verified webhook: the channel whose secret signed it."""


def unknown_channel(channel: str) -> Problem:
    return Problem(
        status_code=404,
        type="unknown_channel",
        title="Unknown channel",
        detail=f"{channel!r} is not a messaging channel",
        errors=[{"field": "channel", "message": f"must be one of {', '.join(OUTBOUND_CHANNELS)}", "code": "unknown"}],
    )


class WebhookSignatureAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        if not request.headers.get(signing.HEADER):
            return None
        channel = (request.parser_context or {}).get("kwargs", {}).get("channel", "")
        if channel not in OUTBOUND_CHANNELS:
            raise unknown_channel(channel)
        try:
            signing.verify(channel, request._request.body, request.headers)
        except SignatureInvalid as exc:
            raise exceptions.AuthenticationFailed(f"invalid webhook signature: {exc.reason}") from None
        return WebhookProvider(channel), VerifiedSignature(channel)

    def authenticate_header(self, request):
        return 'Signature header="X-Signature"'


class WebhookSignatureScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the signature (registered by being defined)."""

    target_class = "backoffice.messaging.api.authentication.WebhookSignatureAuthentication"
    name = "webhookSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": signing.HEADER,
            "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.' + body with the channel's secret>",
        }


class SignedWebhookMixin:
    """For views under /channels/{channel}/...: the channel must exist and the request must be signed for it, even
    when the caller also presented a token."""

    def check_signed(self, request, channel: str) -> None:
        if channel not in OUTBOUND_CHANNELS:
            raise unknown_channel(channel)
        if not isinstance(request.auth, VerifiedSignature) or str(request.auth) != channel:
            raise exceptions.AuthenticationFailed("this webhook must be signed (X-Signature) with the channel's secret")
