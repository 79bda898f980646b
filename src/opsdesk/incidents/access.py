"""What a caller may see: every list starts from ``visible_to``, and ``access_incident`` is
the one permission-checked load (a write for a merged incident lands on its primary); the
incident list and its history built on them."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import NotFound
from opsdesk.core.pagination import Page
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.queries import ListSpec, apply_list_spec


def visible_to(caller: Caller) -> Select[Incident]:
    """Every list starts here: what this caller may see; filters only narrow it.

    An end user sees the incidents they reported or created, and the primaries their
    incidents were merged into (where their conversation now goes on)."""
    query = select(Incident)
    if not caller.is_staff:
        own = (Incident.reporter_id == caller.user_id) | (Incident.creator_id == caller.user_id)
        secondary = aliased(Incident)
        merged_into = select(secondary.merged_into_id).where(
            secondary.merged_into_id.is_not(None),
            (secondary.reporter_id == caller.user_id) | (secondary.creator_id == caller.user_id),
        )
        query = query.where(own | Incident.id.in_(merged_into))
    return query


async def access_incident(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    for_update: bool = False,
    follow_merge: bool = True,
) -> Incident:
    """The incident if the caller may see it; others' incidents do not exist for end users.

    A write (``for_update``) for an incident merged into another lands on that primary,
    unless ``follow_merge`` is False (undoing the merge needs the secondary itself)."""
    query = visible_to(caller).where(Incident.number == number)
    if for_update:
        query = query.with_for_update()
    incident = await session.scalar(query)
    if incident is None:
        raise NotFound(f"no incident {number}", field="number")
    if for_update and follow_merge:
        return await primary_of(session, incident)
    return incident


async def primary_of(session: AsyncSession, incident: Incident) -> Incident:
    """The incident a write for ``incident`` lands on: itself, or (locked) the primary it
    was merged into. Merging into a merged incident is refused, so one step is enough."""
    if incident.merged_into_id is None:
        return incident
    primary = await session.scalar(
        select(Incident).where(Incident.id == incident.merged_into_id).with_for_update()
    )
    if primary is None:  # pragma: no cover - a foreign key keeps it
        raise NotFound(f"no primary for merged incident {incident.number}", field="number")
    return primary


async def merged_into_number(session: AsyncSession, incident: Incident) -> str | None:
    """The number of the primary ``incident`` was merged into, if it was."""
    if incident.merged_into_id is None:
        return None
    number: str | None = await session.scalar(
        select(Incident.number).where(Incident.id == incident.merged_into_id)
    )
    return number


async def merged_into_numbers(session: AsyncSession, incidents: list[Incident]) -> dict[int, str]:
    """Incident id → number of the primary it was merged into, for the merged ones."""
    wanted = {i.merged_into_id for i in incidents if i.merged_into_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Incident.id, Incident.number).where(Incident.id.in_(wanted))
    )
    numbers = {int(row.id): str(row.number) for row in rows}
    return {
        i.id: numbers[i.merged_into_id]
        for i in incidents
        if i.merged_into_id is not None and i.merged_into_id in numbers
    }


async def incident_by_number(
    *, session: AsyncSession, number: str, for_update: bool = False
) -> Incident | None:
    """The incident, unchecked: for channels that learn who acts only from the incident
    (an inbound mail names its incident before its sender's rights are known). A write
    (``for_update``) for a merged incident gets its primary."""
    query = select(Incident).where(Incident.number == number)
    if for_update:
        query = query.with_for_update()
    incident: Incident | None = await session.scalar(query)
    if incident is not None and for_update:
        return await primary_of(session, incident)
    return incident


async def list_incidents(
    *, session: AsyncSession, caller: Caller, spec: ListSpec
) -> Page[Incident]:
    query = apply_list_spec(visible_to(caller), spec)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.scalars(query.offset(spec.page.offset).limit(spec.page.per_page))
    return Page(
        items=list(rows), total=total or 0, page=spec.page.page, per_page=spec.page.per_page
    )


async def list_history(
    *, session: AsyncSession, caller: Caller, number: str
) -> list[IncidentHistory]:
    incident = await access_incident(session=session, caller=caller, number=number)
    query = select(IncidentHistory).where(IncidentHistory.incident_id == incident.id)
    if not caller.is_staff:
        query = query.where(IncidentHistory.internal.is_(False))
    rows = await session.scalars(query.order_by(IncidentHistory.start_time, IncidentHistory.id))
    return list(rows)
