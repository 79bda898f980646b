"""Watchers: people who follow an incident and are told about it as the notification rules say.

Staff may add or remove any active user who can see the incident; an end user may watch and
stop watching only themselves, on incidents they can see. Each add or remove writes a public
history row in the caller's transaction; watching twice (or stopping twice) writes nothing.
Watching is not a change to the incident itself, so it leaves ``version`` (and so the ETag
other people edit against) alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller
from opsdesk.collaboration.models import IncidentWatcher
from opsdesk.core.errors import Forbidden, NotFound, ValidationFailed
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident

WATCHER_FIELD = "watcher"


@dataclass(frozen=True)
class Watchers:
    """What the caller may know of an incident's watchers: staff get everyone, an end user
    only their own row (if any)."""

    items: list[IncidentWatcher]
    watching: bool
    # User id → display name of each watcher listed.
    names: dict[str, str]


def _target(caller: Caller, user_id: str | None, verb: str) -> str:
    target = caller.user_id if user_id is None else user_id
    if target != caller.user_id and not caller.is_staff:
        raise Forbidden(
            f"user_id: end users may {verb} only themselves, not other users", field="user_id"
        )
    return target


async def _check_can_watch(session: AsyncSession, incident: Incident, user_id: str) -> None:
    """The new watcher must be an active user who may see the incident: a watcher is mailed
    about it, and mail must not tell an end user about someone else's incident."""
    watcher = await auth.caller_by_id(session=session, user_id=user_id)
    if watcher is None:
        raise NotFound(f"user_id: no active user with id {user_id}", field="user_id")
    try:
        await access_incident(session=session, caller=watcher, number=incident.number)
    except NotFound:
        raise ValidationFailed(
            f"user_id: user {user_id} cannot see incident {incident.number}, so cannot watch it",
            field="user_id",
        ) from None


async def _find(session: AsyncSession, incident_id: int, user_id: str) -> IncidentWatcher | None:
    return await session.get(IncidentWatcher, (incident_id, user_id))


async def watch(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    user_id: str | None = None,
    now: datetime,
) -> tuple[IncidentWatcher, bool]:
    """Add a watcher (default: the caller); returns the row and whether it is new."""
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    target = _target(caller, user_id, "watch")
    # The incident row is locked above, so two requests cannot both insert the same pair.
    existing = await _find(session, incident.id, target)
    if existing is not None:
        return existing, False
    if target != caller.user_id:
        await _check_can_watch(session, incident, target)
    row = IncidentWatcher(
        incident_id=incident.id, user_id=target, created_at=now, created_by=caller.user_id
    )
    session.add(row)
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.WATCH,
            operator_id=caller.user_id,
            now=now,
            changes=[{"field": WATCHER_FIELD, "old": None, "new": target}],
        )
    )
    await session.flush()
    return row, True


async def unwatch(
    *, session: AsyncSession, caller: Caller, number: str, user_id: str | None = None, now: datetime
) -> bool:
    """Remove a watcher (default: the caller); returns whether there was one to remove."""
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    target = _target(caller, user_id, "stop watching for")
    existing = await _find(session, incident.id, target)
    if existing is None:
        return False
    await session.execute(
        delete(IncidentWatcher).where(
            IncidentWatcher.incident_id == incident.id, IncidentWatcher.user_id == target
        )
    )
    session.expunge(existing)
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.UNWATCH,
            operator_id=caller.user_id,
            now=now,
            changes=[{"field": WATCHER_FIELD, "old": target, "new": None}],
        )
    )
    await session.flush()
    return True


async def list_watchers(*, session: AsyncSession, caller: Caller, number: str) -> Watchers:
    """The incident's watchers, oldest first (staff); an end user learns only about themselves."""
    incident = await access_incident(session=session, caller=caller, number=number)
    query = select(IncidentWatcher).where(IncidentWatcher.incident_id == incident.id)
    if not caller.is_staff:
        query = query.where(IncidentWatcher.user_id == caller.user_id)
    rows = list(
        await session.scalars(query.order_by(IncidentWatcher.created_at, IncidentWatcher.user_id))
    )
    names = await auth.display_names(session=session, user_ids={row.user_id for row in rows})
    return Watchers(
        items=rows, watching=any(row.user_id == caller.user_id for row in rows), names=names
    )


async def watcher_ids(session: AsyncSession, *, incident_id: int) -> list[str]:
    """The ids of the incident's watchers, oldest first: for notifications (no permission
    check; the caller is the system)."""
    rows = await session.scalars(
        select(IncidentWatcher.user_id)
        .where(IncidentWatcher.incident_id == incident_id)
        .order_by(IncidentWatcher.created_at, IncidentWatcher.user_id)
    )
    return list(rows)
