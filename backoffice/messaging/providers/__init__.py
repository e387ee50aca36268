"""Provider adapters: what real providers post to us (anymail's ESP webhooks, Twilio, Meta), verified with each
provider's own scheme and turned into messaging's services (status callbacks) and the inbound hook. Their outbound
halves are the backends of the same names (backoffice.messaging.backends)."""
