"""Customers: identities and their resolution, the customer 360 projections, interaction ingestion, consents and
service cases. Every interaction on every channel is attached here to the one person behind it."""
