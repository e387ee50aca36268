"""Email through Django's email machinery (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
EMAIL_USE_TLS / EMAIL_USE_SSL, EMAIL_TIMEOUT, DEFAULT_FROM_EMAIL).

SMTP has no idempotency key: a server that accepted a message cannot be asked to drop a second copy. The Message-ID
is derived from the message id, so the same message re-sent carries the same Message-ID (some receivers collapse
those), but the backend does not claim to honour keys: a send interrupted by a dead worker goes to manual review.
"""

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from ..errors import DeliveryError, unreached
from .base import Backend, OutgoingMessage


class SmtpBackend(Backend):
    name = "smtp"
    honours_idempotency_key = False

    def send(self, message: OutgoingMessage) -> str:
        message_id = f"<{message.message_id}@{settings.MESSAGING_EMAIL_MESSAGE_ID_DOMAIN}>"
        email = EmailMultiAlternatives(
            subject=message.content["subject"],
            body=message.content.get("body", ""),
            from_email=message.sender or settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers={"Message-ID": message_id, "X-Idempotency-Key": message.idempotency_key},
        )
        if message.content.get("html"):
            email.attach_alternative(message.content["html"], "text/html")
        connection = get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False)
        try:
            sent = connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            temporary = all(400 <= c < 500 for c in codes)
            raise DeliveryError(f"smtp recipient refused ({codes})", is_temporary=temporary) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp {exc.smtp_code}", is_temporary=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPConnectError as exc:
            raise DeliveryError(f"smtp unavailable: {type(exc).__name__}", is_temporary=True) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise unreached(f"smtp unavailable: {type(exc).__name__}", exc) from None
        if not sent:
            raise DeliveryError("smtp server did not accept the message", is_temporary=True)
        return message_id
