"""Which errors mean "the database cannot be reached" (a 503) and which are bugs (a 500)."""

from __future__ import annotations

import socket
import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from opsdesk.core.unavailable import describe, is_database_unavailable


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_refused_connection_from_the_driver_is_unavailable() -> None:
    with pytest.raises(ConnectionRefusedError) as raised:
        await asyncpg.connect(host="127.0.0.1", port=_closed_port(), user="postgres", timeout=5)
    assert is_database_unavailable(raised.value)
    with pytest.raises(RuntimeError) as wrapped:
        raise RuntimeError("while loading the caller") from raised.value
    assert is_database_unavailable(wrapped.value)


def test_an_os_error_outside_a_database_driver_is_a_bug() -> None:
    with pytest.raises(FileNotFoundError) as raised:
        open("/nonexistent/attachments/ab/cdef", "rb")  # noqa: SIM115
    assert not is_database_unavailable(raised.value)
    assert not is_database_unavailable(ConnectionRefusedError(111, "refused"))


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("unable to open database file"), True),
        (sqlite3.OperationalError("no such table: incidents"), False),
        (sa_exc.TimeoutError("QueuePool limit of size 20 overflow 10 reached"), True),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
        (ValueError("bad input"), False),
    ],
)
def test_errors_are_told_apart(error: Exception, unavailable: bool) -> None:
    assert is_database_unavailable(error) is unavailable


def test_an_invalidated_connection_is_unavailable_and_logged_without_sql() -> None:
    wrapped = sa_exc.DBAPIError(
        "SELECT token_hash FROM api_tokens WHERE token_hash = $1",
        ("secret-token-hash",),
        ConnectionResetError("connection was closed in the middle of operation"),
        connection_invalidated=True,
    )
    assert is_database_unavailable(wrapped)
    line = describe(wrapped)
    assert line == "ConnectionResetError: connection was closed in the middle of operation"
    assert "secret" not in line and "SELECT" not in line
