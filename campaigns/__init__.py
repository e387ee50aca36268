"""Campaigns: segments, the QQOQCP worksheet, channel variants, launches, deliveries and attribution."""
