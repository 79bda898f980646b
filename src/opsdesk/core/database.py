"""Database engines and the unit of work.

The entry point (a request, a CLI command, a worker job) owns the transaction: it opens
``db.write()`` or ``db.read()``, hands the session to services, and the block commits once.
On SQLite every write goes through one connection (``BEGIN IMMEDIATE``), so writers queue
in the event loop instead of spinning on SQLite's file lock; reads use their own pool and,
thanks to WAL, never wait for the writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from opsdesk.core.cache import new_caches
from opsdesk.core.sqlite_writer import connect_in_loop

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def normalize_url(url: str) -> str:
    """Accept plain driver names and pick the async driver for each backend."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its folder; create the folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def _prepare_sqlite(engine: AsyncEngine, *, writer: bool) -> None:
    if not writer:  # the writer connection is set up by connect_in_loop

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit BEGIN breaks savepoints).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


class Database:
    """The engines for one database URL and the unit-of-work entry points."""

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            ensure_sqlite_directory(self.url)
            path = parsed.database or ":memory:"
            self.writer = create_async_engine(
                self.url,
                pool_size=1,
                max_overflow=0,
                echo=echo,
                async_creator=lambda: connect_in_loop(path),
            )
            self.reader = create_async_engine(self.url, pool_size=4, max_overflow=4, echo=echo)
            _prepare_sqlite(self.writer, writer=True)
            _prepare_sqlite(self.reader, writer=False)
        else:
            # Overflow connections are closed on return: size the pool for the concurrency
            # so that a busy server does not open a connection every few requests.
            self.writer = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size // 2, echo=echo
            )
            self.reader = self.writer
        self.caches = new_caches()
        info = {"caches": self.caches}
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False, info=info)
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False, info=info)

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction that commits when the block ends and rolls back on error."""
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that is never committed; loaded objects stay readable after it."""
        async with self._read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
