"""The one-click unsubscribe of marketing mail (RFC 8058): List-Unsubscribe names
POST /api/v1/providers/email/unsubscribe/<token>, and a mail client posts `List-Unsubscribe=One-Click` to it.

The token is signed by us (backoffice.messaging.unsubscribe) and names the message: it is the authentication. The
use is recorded like an ESP's unsubscribe callback (`message.unsubscribed`, once), and customers withdraws email
marketing. A GET (someone opening the link in a browser) shows a button that posts the same form.
"""

from django.db import transaction
from django.http import HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from backoffice.eventstore.vocabulary import Channel

from ..services import UnknownMessage, message_status_record
from ..unsubscribe import message_id_from
from ..vocabulary import DeliveryStatus
from .common import problem, too_large


@csrf_exempt
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request, token: str):
    message_id = message_id_from(token)
    if message_id is None:
        return problem(404, "unknown_link", "Unknown link", "this unsubscribe link is not valid", field="token")
    if request.method == "GET":
        return HttpResponse(
            format_html(
                '<!doctype html><html><body><form method="post"><input type="hidden" name="List-Unsubscribe" '
                'value="One-Click"><p>{}</p><button type="submit">{}</button></form></body></html>',
                _("Stop receiving marketing email from us?"),
                _("Unsubscribe"),
            )
        )
    if (refusal := too_large(request, 4096)) is not None:
        return refusal
    try:
        with transaction.atomic():
            message_status_record(
                channel=Channel.EMAIL,
                message_id=message_id,
                provider_message_id="",
                status=DeliveryStatus.UNSUBSCRIBED,
                source="email.one_click",
            )
    except UnknownMessage:
        return problem(404, "unknown_link", "Unknown link", "this unsubscribe link names no message", field="token")
    return HttpResponse(_("You will not receive marketing email from us any more."), content_type="text/plain")
