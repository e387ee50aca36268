"""Provider webhooks under /api/v1/providers/ (the anymail ones are at /anymail/, see providers.anymail)."""

from django.urls import path

from . import email, meta, twilio

urlpatterns = [
    path("providers/twilio/messages", twilio.twilio_messages, name="provider-twilio-messages"),
    path("providers/twilio/status", twilio.twilio_status, name="provider-twilio-status"),
    path("providers/meta/webhook", meta.meta_webhook, name="provider-meta-webhook"),
    path("providers/email/unsubscribe/<str:token>", email.email_unsubscribe, name="provider-email-unsubscribe"),
]
