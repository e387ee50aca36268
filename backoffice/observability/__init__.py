"""Observability: request ids and correlation ids on every request and log line, request latency per view, the
Prometheus `/metrics` endpoint (figures read from the database at scrape time) and the readiness check."""
