"""Journeys: multi-step automations across channels, a part of campaigns built on the log.

A journey is a definition (an entry trigger, steps, an exit goal; campaigns.journeys.definition) published as
numbered versions; each person's progress is events on their own journey stream; a process manager reads the log
(entries, goals, awaited events: campaigns.journeys.services.consumer) and step workers run what is due
(campaigns.journeys.services.steps), every send through messaging with one idempotency key per journey version,
person, entry and step. See docs/journeys.md.
"""
