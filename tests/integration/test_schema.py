"""The schema: migrations match the models, history is append-only, transactions are atomic."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from opsdesk.all_models import Base
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents import creation
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.migrations.env_filters import include_object
from tests.factories import Desk


async def test_models_match_migrations(db: Database) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        return list(compare_metadata(context, Base.metadata))

    async with db.writer.connect() as connection:
        diffs = await connection.run_sync(differences)
    assert diffs == []


async def _one_incident(db: Database, desk: Desk, clock: FixedClock) -> int:
    async with db.write() as session:
        incident = await creation.create_incident(
            session=session,
            caller=desk.tech.caller,
            data=IncidentCreate(title="x"),
            now=clock.now(),
        )
    return incident.id


@pytest.mark.parametrize(
    "statement", ["UPDATE incident_history SET comment = 'forged'", "DELETE FROM incident_history"]
)
async def test_history_rows_cannot_be_changed_or_removed(
    db: Database, desk: Desk, clock: FixedClock, statement: str
) -> None:
    await _one_incident(db, desk, clock)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.write() as session:
            await session.execute(text(statement))
    async with db.read() as session:
        rows = list(await session.scalars(select(IncidentHistory)))
    assert len(rows) == 1 and rows[0].comment == ""


async def test_a_failed_unit_of_work_leaves_nothing(
    db: Database, desk: Desk, clock: FixedClock
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.write() as session:
            await creation.create_incident(
                session=session,
                caller=desk.tech.caller,
                data=IncidentCreate(title="x"),
                now=clock.now(),
            )
            raise Boom
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 0
        assert await session.scalar(select(func.count()).select_from(IncidentHistory)) == 0


async def test_foreign_keys_are_enforced(db: Database, desk: Desk, clock: FixedClock) -> None:
    incident_id = await _one_incident(db, desk, clock)
    with pytest.raises(DBAPIError):
        async with db.write() as session:
            await session.execute(
                text("UPDATE incidents SET category = 'no_such_category' WHERE id = :id"),
                {"id": incident_id},
            )
