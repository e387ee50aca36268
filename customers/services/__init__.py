"""Commands of the customers app: the only code that changes customer state (append events, inline projections)."""

from .consents import consent_record
from .gdpr import CustomerAlreadyErased, Erasure, customer_erase, customer_export
from .identity import Merge, MergeRefused, customer_merge, customer_unmerge
from .ingestion import CustomerRef, IncomingInteraction, IngestResult, interactions_ingest, interactions_parse

__all__ = [
    "CustomerAlreadyErased",
    "CustomerRef",
    "Erasure",
    "IncomingInteraction",
    "IngestResult",
    "Merge",
    "MergeRefused",
    "consent_record",
    "customer_erase",
    "customer_export",
    "customer_merge",
    "customer_unmerge",
    "interactions_ingest",
    "interactions_parse",
]
