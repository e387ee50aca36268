"""Messaging: channels, the outbound pipeline (outbox, delivery ledger, backends) and inbound webhooks."""
