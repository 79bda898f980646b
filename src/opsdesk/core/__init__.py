"""Shared foundations: settings, database, ids, clock, errors, pagination."""
