"""Commands of the customers app: the only code that changes customer state (append events, inline projections)."""

from .consents import consent_record
from .ingestion import CustomerRef, IncomingInteraction, IngestResult, interactions_ingest, interactions_parse

__all__ = [
    "CustomerRef",
    "IncomingInteraction",
    "IngestResult",
    "consent_record",
    "interactions_ingest",
    "interactions_parse",
]
