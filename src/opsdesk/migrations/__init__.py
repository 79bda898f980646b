"""Alembic migrations; every schema change is a new revision here."""
