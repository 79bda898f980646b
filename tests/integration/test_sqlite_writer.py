"""The SQLite writer waits for another process's lock without blocking the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import httpx
import pytest

from opsdesk.core.database import Database
from opsdesk.core.sqlite_writer import connect_in_loop
from tests.factories import Desk


async def test_create_waits_for_a_foreign_lock_while_reads_go_on(
    client: httpx.AsyncClient, desk: Desk, db: Database, backend: str, database_url: str
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite only")
    path = database_url.split("///", 1)[1]
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # what a CLI command in another process does
    try:
        create = asyncio.create_task(
            client.post("/api/v1/incidents", json={"title": "queued"}, headers=desk.tech.headers)
        )
        await asyncio.sleep(0.2)
        assert not create.done()
        started = time.monotonic()
        read = await client.get("/api/v1/incidents", headers=desk.tech.headers)
        assert read.status_code == 200
        assert time.monotonic() - started < 0.5  # the loop was not blocked by the wait
    finally:
        other_process.execute("COMMIT")
        other_process.close()
    response = await asyncio.wait_for(create, timeout=5)
    assert response.status_code == 201


async def test_lock_wait_gives_up_after_its_timeout(tmp_path: object) -> None:
    path = f"{tmp_path}/locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    connection = await connect_in_loop(path, lock_timeout_s=0.2)
    try:
        cursor = connection.cursor()
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await cursor.execute("BEGIN IMMEDIATE")
        assert 0.2 <= time.monotonic() - started < 1.0
    finally:
        holder.execute("COMMIT")
        holder.close()
        await connection.close()
