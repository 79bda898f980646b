"""Moving and copying an incident's conversation, work log, watchers, tasks and work orders
to another incident.

For merging, undoing a merge and splitting (relations/): the caller has locked both
incidents and checked the rules; these functions only move rows and say which ones moved,
so the move can be reversed exactly. They write no history (the caller writes one row per
incident naming everything that moved) and never commit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.collaboration.models import (
    ConversationEntry,
    IncidentTask,
    IncidentWatcher,
    WorkLogEntry,
    WorkOrder,
)
from opsdesk.collaboration.work_states import OPEN_TASK_STATUSES, OPEN_WORK_ORDER_STATUSES
from opsdesk.incidents.models import Incident


async def move_conversations(
    session: AsyncSession, *, from_id: int, to_id: int, entry_ids: Collection[int] | None = None
) -> list[int]:
    """Move the conversation entries of ``from_id`` (or just ``entry_ids`` of them); their
    authors and times stay as they were. Returns the ids moved."""
    query = select(ConversationEntry.id).where(ConversationEntry.incident_id == from_id)
    if entry_ids is not None:
        query = query.where(ConversationEntry.id.in_(list(entry_ids)))
    ids = list(await session.scalars(query.order_by(ConversationEntry.id)))
    if ids:
        await session.execute(
            update(ConversationEntry)
            .where(ConversationEntry.id.in_(ids))
            .values(incident_id=to_id)
            .execution_options(synchronize_session=False)
        )
    return ids


async def move_work_logs(
    session: AsyncSession, *, from_id: int, to_id: int, entry_ids: Collection[int] | None = None
) -> list[int]:
    """Move the work log entries of ``from_id`` (or ``entry_ids`` of them); returns the ids."""
    query = select(WorkLogEntry.id).where(WorkLogEntry.incident_id == from_id)
    if entry_ids is not None:
        query = query.where(WorkLogEntry.id.in_(list(entry_ids)))
    ids = list(await session.scalars(query.order_by(WorkLogEntry.id)))
    if ids:
        await session.execute(
            update(WorkLogEntry)
            .where(WorkLogEntry.id.in_(ids))
            .values(incident_id=to_id)
            .execution_options(synchronize_session=False)
        )
    return ids


async def conversations_of(
    session: AsyncSession, *, incident_id: int, entry_ids: Collection[int]
) -> list[ConversationEntry]:
    """The named conversation entries, if they belong to ``incident_id`` (oldest first)."""
    if not entry_ids:
        return []
    rows = await session.scalars(
        select(ConversationEntry)
        .where(
            ConversationEntry.incident_id == incident_id,
            ConversationEntry.id.in_(list(entry_ids)),
        )
        .order_by(ConversationEntry.created_at, ConversationEntry.id)
    )
    return list(rows)


async def copy_conversations(
    session: AsyncSession, *, entries: list[ConversationEntry], to_id: int
) -> dict[int, int]:
    """Copy entries onto ``to_id`` with their author, text, visibility and time: the
    original keeps its own. Returns original id → copy id."""
    copies: dict[int, int] = {}
    for entry in entries:
        copy = ConversationEntry(
            incident_id=to_id,
            author_id=entry.author_id,
            body=entry.body,
            internal=entry.internal,
            created_at=entry.created_at,
        )
        session.add(copy)
        await session.flush()
        copies[entry.id] = copy.id
    return copies


async def watcher_ids_of(session: AsyncSession, *, incident_id: int) -> list[str]:
    rows = await session.scalars(
        select(IncidentWatcher.user_id)
        .where(IncidentWatcher.incident_id == incident_id)
        .order_by(IncidentWatcher.created_at, IncidentWatcher.user_id)
    )
    return list(rows)


async def add_watchers(
    session: AsyncSession,
    *,
    incident_id: int,
    user_ids: Collection[str],
    by: str,
    now: datetime,
) -> list[str]:
    """Add the users not yet watching ``incident_id``; returns those added (in given order)."""
    already = set(await watcher_ids_of(session, incident_id=incident_id))
    added: list[str] = []
    for user_id in user_ids:
        if user_id in already or user_id in added:
            continue
        session.add(
            IncidentWatcher(incident_id=incident_id, user_id=user_id, created_at=now, created_by=by)
        )
        added.append(user_id)
    await session.flush()
    return added


async def remove_watchers(
    session: AsyncSession, *, incident_id: int, user_ids: Collection[str]
) -> None:
    if user_ids:
        await session.execute(
            delete(IncidentWatcher)
            .where(
                IncidentWatcher.incident_id == incident_id,
                IncidentWatcher.user_id.in_(list(user_ids)),
            )
            .execution_options(synchronize_session=False)
        )


async def move_work(
    session: AsyncSession,
    *,
    source: Incident,
    target: Incident,
    task_ids: Collection[int] | None = None,
    work_order_ids: Collection[int] | None = None,
) -> tuple[list[int], list[int]]:
    """Move the tasks and work orders of ``source`` (or just the given ones) to ``target``;
    both incidents' open counters are counted again from the rows. Returns the ids moved."""
    moved: list[list[int]] = []
    for model, chosen in ((IncidentTask, task_ids), (WorkOrder, work_order_ids)):
        query = select(model.id).where(model.incident_id == source.id)
        if chosen is not None:
            query = query.where(model.id.in_(list(chosen)))
        ids = list(await session.scalars(query.order_by(model.id)))
        if ids:
            await session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(incident_id=target.id)
                .execution_options(synchronize_session=False)
            )
        moved.append(ids)
    for incident in (source, target):
        await recount_open_work(session, incident)
    return moved[0], moved[1]


async def recount_open_work(session: AsyncSession, incident: Incident) -> None:
    """``open_tasks`` and ``open_work_orders`` from the rows themselves."""
    incident.open_tasks = int(
        await session.scalar(
            select(func.count()).where(
                IncidentTask.incident_id == incident.id,
                IncidentTask.status.in_([str(status) for status in OPEN_TASK_STATUSES]),
            )
        )
        or 0
    )
    incident.open_work_orders = int(
        await session.scalar(
            select(func.count()).where(
                WorkOrder.incident_id == incident.id,
                WorkOrder.status.in_([str(status) for status in OPEN_WORK_ORDER_STATUSES]),
            )
        )
        or 0
    )
