"""The event store: the one append-only log of every interaction, and the machinery around it.

It owns the Event table (append-only, enforced by database triggers), optimistic concurrency per stream,
idempotent appends, the registry of event types with their data schemas and upcasters, projections (inline in the
append's transaction, or asynchronous behind a checkpoint), and the per-customer keys used for crypto-shredding.
"""
