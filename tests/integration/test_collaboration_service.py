"""Collaboration services against the database: the caller owns the transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from opsdesk.collaboration import service
from opsdesk.collaboration.models import ConversationEntry, WorkLogEntry
from opsdesk.collaboration.schemas import ConversationCreate, WorkLogCreate
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents import creation
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.schemas import IncidentCreate
from tests.factories import Desk


class Abandon(Exception):
    """Raised inside a unit of work to roll it back."""


async def new_incident(db: Database, desk: Desk, clock: FixedClock) -> str:
    async with db.write() as session:
        incident = await creation.create_incident(
            session=session,
            caller=desk.user.caller,
            data=IncidentCreate(title="Printer jams"),
            now=clock.now(),
        )
    return incident.number


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.read() as session:
        return (
            await session.scalar(select(func.count()).select_from(ConversationEntry)) or 0,
            await session.scalar(select(func.count()).select_from(WorkLogEntry)) or 0,
            await session.scalar(select(func.count()).select_from(IncidentHistory)) or 0,
        )


async def test_services_flush_but_leave_the_commit_to_the_caller(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    number = await new_incident(db, desk, clock)
    before = await counts(db)
    with pytest.raises(Abandon):
        async with db.write() as session:
            entry = await service.add_conversation(
                session=session,
                caller=desk.tech.caller,
                number=number,
                data=ConversationCreate(body="on it"),
                now=clock.now(),
            )
            log = await service.add_work_log(
                session=session,
                caller=desk.tech.caller,
                number=number,
                data=WorkLogCreate(description="triage", time_spent_minutes=15),
                now=clock.now(),
            )
            assert entry.id is not None and log.id is not None  # flushed
            raise Abandon
    assert await counts(db) == before
    async with db.read() as session:
        version = await session.scalar(select(Incident.version).where(Incident.number == number))
    assert version == 1


async def test_work_log_keeps_seconds_and_utc(db: Database, desk: Desk, clock: FixedClock) -> None:
    number = await new_incident(db, desk, clock)
    started = datetime(2026, 3, 2, 17, 30, tzinfo=timezone(timedelta(hours=8)))
    async with db.write() as session:
        for minutes in (20, 25):
            await service.add_work_log(
                session=session,
                caller=desk.tech.caller,
                number=number,
                data=WorkLogCreate(
                    description="remote session", time_spent_minutes=minutes, started_at=started
                ),
                now=clock.now(),
            )
    async with db.read() as session:
        logs = await service.list_work_logs(session=session, caller=desk.tech.caller, number=number)
    assert logs.total_seconds == 45 * 60 and logs.total_minutes == 45
    assert [item.time_spent_s for item in logs.items] == [20 * 60, 25 * 60]
    assert logs.items[0].started_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
