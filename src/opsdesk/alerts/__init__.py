"""Monitoring alerts: integrations, receivers' payloads, dedup, grouping, conversion rules."""
