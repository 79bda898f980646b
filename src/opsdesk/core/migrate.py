"""Schema upgrades: runs the packaged Alembic migrations against a database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from opsdesk.core.database import ensure_sqlite_directory

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; blocking, so call it outside a running event loop."""
    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)
