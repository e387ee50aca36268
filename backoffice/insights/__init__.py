"""Insights: business metrics and dashboards, read from the projections of every app."""
