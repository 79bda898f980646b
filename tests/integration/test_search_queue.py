"""SQLite's search queue (migration 0025): a new incident is suggested at once, reaches the
full-text index with its batch, and edits, closing, merging or deleting it while it waits
leave the index holding exactly the live incidents with their current text."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, text

from opsdesk.auth.roles import Caller, Role
from opsdesk.bootstrap import prepare_database
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.migrate import alembic_config
from opsdesk.incidents import creation
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.knowledge import search_index
from opsdesk.knowledge.suggest import suggest
from tests.factories import Desk, make_actor


async def _create(db: Database, caller: Caller, clock: FixedClock, title: str) -> int:
    async with db.write() as session:
        incident = await creation.create_incident(
            session=session,
            caller=caller,
            data=IncidentCreate(title=title, description=f"{title}, reported by phone."),
            now=clock.now(),
        )
        return incident.id


async def _indexed(db: Database, word: str) -> set[int]:
    """The incidents the full-text index itself returns for ``word``."""
    async with db.read() as session:
        if session.get_bind().dialect.name == "sqlite":
            sql = "SELECT rowid FROM incident_search WHERE incident_search MATCH :w"
        else:
            sql = "SELECT incident_id FROM incident_search WHERE document @@ to_tsquery(:w)"
        return set(await session.scalars(text(sql), {"w": word}))


async def _waiting(db: Database) -> set[int]:
    async with db.read() as session:
        if not search_index.has_queue(session):
            return set()
        return set(await session.scalars(text("SELECT incident_id FROM incident_search_pending")))


async def _suggested(
    db: Database, caller: Caller, words: str, now: datetime
) -> dict[int, list[str]]:
    async with db.read() as session:
        found = await suggest(session=session, caller=caller, text_=words, now=now)
    return {item.id: item.matched for item in found if item.kind == "incident"}


async def test_a_new_incident_is_suggested_before_and_after_it_is_indexed(
    db: Database, desk: Desk, clock: FixedClock, backend: str
) -> None:
    mine = await _create(db, desk.user.caller, clock, "Conveyor belt jammed")
    theirs = await _create(db, desk.other_user.caller, clock, "Conveyor belt squeaks")
    if backend == "sqlite":
        assert await _waiting(db) == {mine, theirs}
        assert await _indexed(db, "conveyor") == set()
    else:
        assert await _indexed(db, "conveyor") == {mine, theirs}
    for indexed in (False, True):
        staff = await _suggested(db, desk.tech.caller, "conveyor jammed", clock.now())
        assert set(staff) == {mine, theirs}, indexed
        assert staff[mine] == ["conveyor", "jammed"]
        # End users only ever get their own incidents, waiting or indexed.
        assert set(await _suggested(db, desk.user.caller, "conveyor", clock.now())) == {mine}
        async with db.write() as session:
            await search_index.index_waiting(session)
        assert await _waiting(db) == set()
        assert await _indexed(db, "conveyor") == {mine, theirs}


async def test_a_full_batch_is_indexed_by_the_database(
    db: Database, desk: Desk, clock: FixedClock, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL indexes each incident as it is written")
    ids = [
        await _create(db, desk.tech.caller, clock, f"Forklift battery {n}")
        for n in range(search_index.PENDING_BATCH - 1)
    ]
    assert await _waiting(db) == set(ids)
    assert await _indexed(db, "forklift") == set()
    ids.append(await _create(db, desk.tech.caller, clock, "Forklift battery last"))
    assert await _waiting(db) == set()
    assert await _indexed(db, "forklift") == set(ids)


async def test_edits_while_waiting_leave_the_index_exact(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    edited, closed, merged, kept = [
        await _create(db, desk.tech.caller, clock, f"Scanner {name} offline")
        for name in ("alpha", "bravo", "charlie", "delta")
    ]
    async with db.write() as session:
        # A row written by plain SQL (no history) that can be deleted while it waits.
        row = _row("IM-DELETED", "Scanner echo offline", desk.tech.id, clock.now())
        deleted = (
            await session.execute(insert(Incident).returning(Incident.id), [row])
        ).scalar_one()
    # Any writer counts, not only the services: the database keeps the index and the queue.
    async with db.write() as session:
        await session.execute(
            text("UPDATE incidents SET title = 'Barcode gun dead' WHERE id = :i"), {"i": edited}
        )
        await session.execute(
            text("UPDATE incidents SET status = 'INCIDENT_STATUS_COMPLETED' WHERE id = :i"),
            {"i": closed},
        )
        await session.execute(
            text("UPDATE incidents SET merged_into_id = :k WHERE id = :i"),
            {"i": merged, "k": kept},
        )
        await session.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": deleted})
    assert await _waiting(db) <= {edited, closed, merged, kept}
    async with db.write() as session:
        await search_index.index_waiting(session)
    assert await _indexed(db, "scanner") == {edited, kept}  # the description still says so
    assert await _indexed(db, "barcode") == {edited}
    assert await _indexed(db, "echo") == set()
    # Once indexed, edits go through the index at once.
    async with db.write() as session:
        await session.execute(
            text("UPDATE incidents SET title = 'Label printer smudges' WHERE id = :i"),
            {"i": edited},
        )
        await session.execute(
            text("UPDATE incidents SET status = 'INCIDENT_STATUS_COMPLETED' WHERE id = :i"),
            {"i": kept},
        )
    assert await _indexed(db, "barcode") == set()
    assert await _indexed(db, "smudges") == {edited}
    assert await _indexed(db, "scanner") == {edited}
    if db.writer.dialect.name == "sqlite":
        async with db.write() as session:
            await session.execute(
                text("INSERT INTO incident_search(incident_search) VALUES ('integrity-check')")
            )


def _row(number: str, title: str, user_id: str, now: datetime) -> dict[str, object]:
    return {
        "number": number,
        "title": title,
        "description": title,
        "level": "level_30",
        "source": "api",
        "channel": "api",
        "creator_id": user_id,
        "reporter_id": user_id,
        "status": "INCIDENT_STATUS_TRIGGERED",
        "created_at": now,
        "updated_at": now,
    }


async def _insert_waiting(url: str, title: str) -> None:
    db = Database(url)
    try:
        clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
        tech = await make_actor(db, clock, Role.TECHNICIAN, "tech@queue.test")
        async with db.write() as session:
            await session.execute(insert(Incident), [_row("IM1", title, tech.id, clock.now())])
    finally:
        await db.dispose()


def test_downgrading_indexes_what_waits(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    url = f"sqlite+aiosqlite:///{path}"
    prepare_database(url)
    asyncio.run(_insert_waiting(url, "Pallet wrapper stuck"))

    def count(sql: str) -> int:
        with sqlite3.connect(path) as connection:
            return int(connection.execute(sql).fetchone()[0])

    pallet = "SELECT count(*) FROM incident_search WHERE incident_search MATCH 'pallet'"
    assert count("SELECT count(*) FROM incident_search_pending") == 1
    assert count(pallet) == 0
    command.downgrade(alembic_config(url), "0024")
    assert count(pallet) == 1
    command.upgrade(alembic_config(url), "head")
    assert count("SELECT count(*) FROM incident_search_pending") == 0
    assert count(pallet) == 1
