"""Tell a database that cannot be reached from a bug: the first is a 503, the second a 500.

Connection failures surface in many shapes: asyncpg's own errors, SQLAlchemy's wrappers
(with ``connection_invalidated`` set when a pooled connection died), a plain
``ConnectionRefusedError`` from the socket while the pool opens a new connection, a pool
timeout, or SQLite's "unable to open database file" and "database is locked". Plain
``OSError``s count only when they were raised inside a database driver, so a full disk
under the attachment store stays a server error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from types import TracebackType

import asyncpg
import psycopg
from sqlalchemy import exc as sa_exc

# asyncpg: class 08 (connection exception), 57P01-57P03 (shutdown, starting up), 53300.
_ASYNCPG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)
_SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked", "disk i/o error")
_DRIVER_MODULES = (
    "sqlalchemy",
    "asyncpg",
    "psycopg",
    "aiosqlite",
    "opsdesk.core.database",
    "opsdesk.core.sqlite_writer",
)


def _links(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it and what it wraps, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (
            current.__cause__,
            current.__context__,
            getattr(current, "orig", None),
            *getattr(current, "exceptions", ()),
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _raised_in_driver(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(_DRIVER_MODULES):
            return True
        traceback = traceback.tb_next
    return False


def _is_unavailable_link(link: BaseException) -> bool:
    if isinstance(link, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(link, sa_exc.DBAPIError) and link.connection_invalidated:
        return True
    if isinstance(link, _ASYNCPG_UNAVAILABLE):
        return True
    if isinstance(link, psycopg.OperationalError):
        return True
    if isinstance(link, sqlite3.OperationalError):
        return str(link).lower().startswith(_SQLITE_UNAVAILABLE)
    return isinstance(link, OSError) and _raised_in_driver(link.__traceback__)


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the database cannot be reached now."""
    return any(_is_unavailable_link(link) for link in _links(exc))


def describe(exc: BaseException) -> str:
    """A one-line account for the log: the driver's words, never SQL or its parameters."""
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"
