"""The SQLite writer connection: sqlite3 called on the event loop, no thread hand-offs.

SQLite runs one writer at a time whatever we do, and a write by key takes tens of
microseconds, while aiosqlite hands every call (cursor, execute, fetch, close, commit) to
its thread and back: for a create that was most of the time the writer was held. So the
single writer connection calls sqlite3 directly, through the small async interface that
SQLAlchemy's aiosqlite dialect expects. Reads keep aiosqlite's threads, so a long report
never blocks the loop.

Waiting for another process's lock must not block the loop either: the connection has no
busy timeout, and a statement that finds the database locked outside a transaction (that is,
``BEGIN IMMEDIATE``) is retried with ``asyncio.sleep`` until ``lock_timeout_s``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

LOCK_RETRY_FIRST_S = 0.001
LOCK_RETRY_MAX_S = 0.05


def _is_locked(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class InLoopCursor:
    def __init__(self, connection: InLoopConnection) -> None:
        self._owner = connection
        self._cursor = connection._conn.cursor()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def __aenter__(self) -> InLoopCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InLoopCursor:
        deadline = time.monotonic() + self._owner.lock_timeout_s
        delay = LOCK_RETRY_FIRST_S
        while True:
            try:
                self._cursor.execute(sql, parameters)
                return self
            except sqlite3.OperationalError as error:
                waiting_is_safe = not self._owner._conn.in_transaction
                if not (_is_locked(error) and waiting_is_safe) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, LOCK_RETRY_MAX_S)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InLoopCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def setinputsizes(self, *_sizes: Sequence[Any]) -> None:
        return None

    async def nextset(self) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class InLoopConnection:
    """The subset of ``aiosqlite.Connection`` that SQLAlchemy's dialect calls."""

    def __init__(self, conn: sqlite3.Connection, *, lock_timeout_s: float) -> None:
        self._conn = conn
        # SQLAlchemy's adapter checks this attribute to know the connection is open.
        self._connection: sqlite3.Connection | None = conn
        self.lock_timeout_s = lock_timeout_s

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InLoopCursor:
        return InLoopCursor(self)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._conn.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


async def connect_in_loop(path: str, *, lock_timeout_s: float = 10.0) -> InLoopConnection:
    # isolation_level=None: SQLAlchemy emits BEGIN itself (pysqlite's implicit BEGIN
    # would break savepoints); timeout=0: lock waits are async retries, see above.
    conn = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    return InLoopConnection(conn, lock_timeout_s=lock_timeout_s)
