"""Commands of the customers app: the only code that changes customer state (append events, inline projections)."""

from .consents import consent_record
from .gdpr import CustomerAlreadyErased, Erasure, customer_erase, customer_export
from .ingestion import CustomerRef, IncomingInteraction, IngestResult, interactions_ingest, interactions_parse

__all__ = [
    "CustomerAlreadyErased",
    "CustomerRef",
    "Erasure",
    "IncomingInteraction",
    "IngestResult",
    "consent_record",
    "customer_erase",
    "customer_export",
    "interactions_ingest",
    "interactions_parse",
]
