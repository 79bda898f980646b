"""The incidents waiting for SQLite's full-text index (migration 0025).

On SQLite a new live incident is queued in ``incident_search_pending`` and indexed with the
next batch (a trigger writes each full batch in one FTS5 write). Until then suggestions read
it from here: the queue is short (under one batch), so its rows are scored in Python.
PostgreSQL indexes each incident as it is written and has no queue.
"""

# The statements are joined from constant fragments; values only travel as bind parameters.
# ruff: noqa: S608
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.database import UTCDateTime
from opsdesk.incidents.fields import Status

# The queue's length at which migration 0025's trigger indexes it (kept equal to it; a test
# fills one batch and reads the index).
PENDING_BATCH = 32
LIVE_STATUSES = ", ".join(
    f"'{status.value}'" for status in (Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED)
)
# What can be suggested (migration 0021): open, or resolved and not yet closed; not merged.
LIVE_INCIDENT = f"i.merged_into_id IS NULL AND i.status IN ({LIVE_STATUSES})"
# ``id IN (queue)`` makes SQLite look up the few queued ids; a join let its planner (in a
# trigger) scan the live incidents instead: 25 ms a batch on 100,000 incidents, not 0.2 ms.
_WAITING_ROWS = f"""
SELECT i.id, i.number, i.title, i.description, i.solution, i.status, i.resolved_at
FROM incidents i
WHERE i.id IN (SELECT incident_id FROM incident_search_pending)
  AND {LIVE_INCIDENT} {{own}} {{exclude}}
"""
_INDEX_WAITING = f"""
INSERT INTO incident_search(rowid, title, description, solution)
SELECT i.id, i.title, i.description, coalesce(i.solution, '')
FROM incidents i
WHERE i.id IN (SELECT incident_id FROM incident_search_pending) AND {LIVE_INCIDENT}
"""


@dataclass(frozen=True)
class WaitingIncident:
    id: int
    number: str
    title: str
    description: str
    solution: str | None
    status: str
    resolved_at: datetime | None


def has_queue(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def waiting_incidents(
    session: AsyncSession, caller: Caller, exclude_id: int | None = None
) -> list[WaitingIncident]:
    """The live incidents not yet in the index that ``caller`` may see."""
    if not has_queue(session):
        return []
    own = "" if caller.is_staff else "AND (i.reporter_id = :me OR i.creator_id = :me)"
    exclude = "" if exclude_id is None else "AND i.id != :exclude"
    statement = text(_WAITING_ROWS.format(own=own, exclude=exclude)).columns(
        resolved_at=UTCDateTime()
    )
    params: dict[str, object] = {}
    if not caller.is_staff:
        params["me"] = caller.user_id
    if exclude_id is not None:
        params["exclude"] = exclude_id
    rows = await session.execute(statement, params)
    return [
        WaitingIncident(
            id=row.id,
            number=row.number,
            title=row.title,
            description=row.description,
            solution=row.solution,
            status=row.status,
            resolved_at=row.resolved_at,
        )
        for row in rows
    ]


async def index_waiting(session: AsyncSession) -> int:
    """Index every waiting incident now (in the caller's transaction); how many were queued.

    The trigger does this by itself for every full batch; this is for the rest (a bulk load,
    a benchmark, a test that reads the index itself)."""
    if not has_queue(session):
        return 0
    waiting = int(await session.scalar(text("SELECT count(*) FROM incident_search_pending")) or 0)
    if waiting:
        await session.execute(text(_INDEX_WAITING))
        await session.execute(text("DELETE FROM incident_search_pending"))
    return waiting
