"""Links between incidents and parent/child: add, remove, list, set and clear a parent.

Only staff change links. Anyone lists the links of an incident they may see, and sees only
the linked incidents they may see themselves (an end user never learns another user's
incident, not even its title). Every change writes a history row on both incidents (the
``changes`` and the comment name the other number) and bumps both incidents' ``version``
and ``updated_at``, as the other collaboration changes do; ``incident_link`` /
``incident_unlink`` are the rows' actions, parent/child included. The rules are in
``link_rules``; a write for a merged incident lands on its primary, and a merged incident
is never the other end of a new link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.incidents.access import access_incident, visible_to
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.lifecycle import PHASE_LABELS, phase_of
from opsdesk.incidents.models import Incident
from opsdesk.relations.link_rules import (
    STORED_KINDS,
    Direction,
    End,
    LinkKind,
    LinkRefused,
    StoredLink,
    check_link,
    check_parent,
    link_label,
)
from opsdesk.relations.models import IncidentLink

LINK_FIELD = "link"
PARENT_FIELD = "parent"
CHILD_FIELD = "child"


@dataclass(frozen=True)
class LinkedIncident:
    """The incident at the other end, as the caller may know it."""

    number: str
    title: str
    status: str
    phase: str
    phase_label: str


@dataclass(frozen=True)
class LinkView:
    """A link seen from one incident: ``kind`` and ``direction`` as stored, ``label`` how it
    reads from here ("Duplicated by"); parent and child entries have no ``id``."""

    id: int | None
    kind: LinkKind
    direction: Direction
    label: str
    label_zh: str
    incident: LinkedIncident
    created_by: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class Links:
    number: str
    links: list[LinkView]
    parent: LinkedIncident | None
    children: list[LinkedIncident]


def linked(incident: Incident) -> LinkedIncident:
    phase = phase_of(incident.status, incident.sub_status)
    return LinkedIncident(
        number=incident.number,
        title=incident.title,
        status=incident.status,
        phase=phase.value,
        phase_label=PHASE_LABELS[phase].en,
    )


def _refuse_end_users(caller: Caller) -> None:
    if not caller.is_staff:
        raise Forbidden("links: only staff link incidents; end users may only list them")


def _refused(error: LinkRefused) -> Exception:
    if error.conflict:
        return Conflict(error.message, field=error.field)
    return ValidationFailed(error.message, field=error.field)


async def _end(session: AsyncSession, incident: Incident) -> End:
    merged_into = None
    if incident.merged_into_id is not None:
        merged_into = await session.scalar(
            select(Incident.number).where(Incident.id == incident.merged_into_id)
        )
    return End(incident.id, incident.number, merged_into)


async def _other(session: AsyncSession, caller: Caller, number: str | None) -> Incident:
    if not number:
        raise ValidationFailed("number: name the incident to link by its number", field="number")
    return await access_incident(session=session, caller=caller, number=number)


async def _written(session: AsyncSession, caller: Caller, number: str) -> Incident:
    """The incident a write for ``number`` lands on (its primary when merged), not locked
    yet: ``_lock`` takes every lock of a change at once."""
    incident = await access_incident(session=session, caller=caller, number=number)
    if incident.merged_into_id is None:
        return incident
    primary = await session.get(Incident, incident.merged_into_id)
    assert primary is not None  # a foreign key keeps it
    return primary


async def _lock(session: AsyncSession, *incidents: Incident | None) -> None:
    """Lock the incidents a change touches in one statement, in id order (two people
    linking the same pair from opposite ends cannot deadlock), and reload them."""
    ids = sorted({item.id for item in incidents if item is not None})
    await session.execute(
        select(Incident)
        .where(Incident.id.in_(ids))
        .order_by(Incident.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _record(
    session: AsyncSession,
    incident: Incident,
    *,
    action: HistoryAction,
    caller: Caller,
    field: str,
    old: str | None,
    new: str | None,
    comment: str,
    now: datetime,
) -> None:
    incident.version += 1
    incident.updated_at = now
    session.add(
        record_history(
            incident=incident,
            action=action,
            operator_id=caller.user_id,
            now=now,
            changes=[{"field": field, "old": old, "new": new}],
            comment=comment,
        )
    )


async def add_link(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    kind: LinkKind,
    other_number: str | None,
    now: datetime,
    replace: bool = False,
) -> LinkView:
    """Link ``number`` to ``other_number`` as ``kind`` (parent/child set ``parent_id``)."""
    _refuse_end_users(caller)
    incident = await _written(session, caller, number)
    other = await _other(session, caller, other_number)
    await _lock(session, incident, other)
    if kind is LinkKind.PARENT:
        await set_parent(session, caller, child=incident, parent=other, now=now, replace=replace)
        return _family_view(kind, other)
    if kind is LinkKind.CHILD:
        await set_parent(session, caller, child=other, parent=incident, now=now, replace=replace)
        return _family_view(kind, other)
    assert kind in STORED_KINDS
    existing = await session.scalars(
        select(IncidentLink).where(
            or_(
                (IncidentLink.source_id == incident.id) & (IncidentLink.target_id == other.id),
                (IncidentLink.source_id == other.id) & (IncidentLink.target_id == incident.id),
            )
        )
    )
    try:
        check_link(
            await _end(session, incident),
            await _end(session, other),
            kind,
            [StoredLink(row.source_id, row.target_id, row.kind) for row in existing],
        )
    except LinkRefused as exc:
        raise _refused(exc) from None
    row = IncidentLink(
        source_id=incident.id,
        target_id=other.id,
        kind=str(kind),
        created_by=caller.user_id,
        created_at=now,
    )
    session.add(row)
    for here, there, direction in (
        (incident, other, Direction.OUTGOING),
        (other, incident, Direction.INCOMING),
    ):
        label = link_label(kind, direction).en
        _record(
            session,
            here,
            action=HistoryAction.LINK,
            caller=caller,
            field=LINK_FIELD,
            old=None,
            new=f"{label} {there.number}",
            comment=f"{label} {there.number}",
            now=now,
        )
    await session.flush()
    return _view(row, incident, other)


def _view(row: IncidentLink, here: Incident, there: Incident) -> LinkView:
    direction = Direction.OUTGOING if row.source_id == here.id else Direction.INCOMING
    kind = LinkKind(row.kind)
    label = link_label(kind, direction)
    return LinkView(
        id=row.id,
        kind=kind,
        direction=direction,
        label=label.en,
        label_zh=label.zh,
        incident=linked(there),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _family_view(kind: LinkKind, other: Incident) -> LinkView:
    label = link_label(kind, Direction.OUTGOING)
    return LinkView(
        id=None,
        kind=kind,
        direction=Direction.OUTGOING,
        label=label.en,
        label_zh=label.zh,
        incident=linked(other),
        created_by=None,
        created_at=None,
    )


async def _parents_above(session: AsyncSession, incident: Incident) -> dict[int, int | None]:
    """``incident`` and its ancestors, each mapped to its parent id (stops on a loop)."""
    found: dict[int, int | None] = {incident.id: incident.parent_id}
    current = incident.parent_id
    while current is not None and current not in found:
        above = await session.scalar(select(Incident.parent_id).where(Incident.id == current))
        found[current] = above
        current = above
    return found


async def set_parent(
    session: AsyncSession,
    caller: Caller,
    *,
    child: Incident,
    parent: Incident,
    now: datetime,
    replace: bool = False,
) -> None:
    """Make ``parent`` the parent of ``child`` (both loaded and locked by the caller)."""
    _refuse_end_users(caller)
    current = None
    if child.parent_id is not None:
        current = await session.get(Incident, child.parent_id)
        await _lock(session, child, parent, current)
    try:
        check_parent(
            await _end(session, child),
            await _end(session, parent),
            current_parent=None if current is None else End(current.id, current.number),
            parent_of=await _parents_above(session, parent),
            replace=replace,
        )
    except LinkRefused as exc:
        raise _refused(exc) from None
    child.parent_id = parent.id
    old = None if current is None else current.number
    replaced = "" if current is None else f" (was {current.number})"
    _record(
        session,
        child,
        action=HistoryAction.LINK,
        caller=caller,
        field=PARENT_FIELD,
        old=old,
        new=parent.number,
        comment=f"Parent set to {parent.number}{replaced}",
        now=now,
    )
    _record(
        session,
        parent,
        action=HistoryAction.LINK,
        caller=caller,
        field=CHILD_FIELD,
        old=None,
        new=child.number,
        comment=f"{child.number} added as a child",
        now=now,
    )
    if current is not None:
        _record(
            session,
            current,
            action=HistoryAction.UNLINK,
            caller=caller,
            field=CHILD_FIELD,
            old=child.number,
            new=None,
            comment=f"{child.number} moved to parent {parent.number}",
            now=now,
        )
    await session.flush()


async def clear_parent(*, session: AsyncSession, caller: Caller, number: str, now: datetime) -> str:
    """Remove the parent of ``number``; returns the parent's number."""
    _refuse_end_users(caller)
    child = await _written(session, caller, number)
    parent = None if child.parent_id is None else await session.get(Incident, child.parent_id)
    await _lock(session, child, parent)
    if child.parent_id is None:  # (read again under the lock)
        raise NotFound(f"parent: {child.number} has no parent", field="parent")
    if parent is None or parent.id != child.parent_id:  # changed meanwhile
        parent = await session.get(Incident, child.parent_id)
        await _lock(session, parent)
    assert parent is not None  # a foreign key keeps it
    child.parent_id = None
    _record(
        session,
        child,
        action=HistoryAction.UNLINK,
        caller=caller,
        field=PARENT_FIELD,
        old=parent.number,
        new=None,
        comment=f"Parent {parent.number} removed",
        now=now,
    )
    _record(
        session,
        parent,
        action=HistoryAction.UNLINK,
        caller=caller,
        field=CHILD_FIELD,
        old=child.number,
        new=None,
        comment=f"{child.number} is no longer a child",
        now=now,
    )
    await session.flush()
    return parent.number


async def remove_link(
    *, session: AsyncSession, caller: Caller, number: str, link_id: int, now: datetime
) -> None:
    """Remove a link row of ``number`` (either end), with an unlink row on both incidents."""
    _refuse_end_users(caller)
    incident = await _written(session, caller, number)
    row = await session.get(IncidentLink, link_id)
    if row is None or incident.id not in (row.source_id, row.target_id):
        raise NotFound(f"link_id: {number} has no link {link_id}", field="link_id")
    other_id = row.target_id if row.source_id == incident.id else row.source_id
    other = await session.get(Incident, other_id)
    assert other is not None  # a foreign key keeps it
    await _lock(session, incident, other)
    if await session.get(IncidentLink, link_id, populate_existing=True) is None:
        raise NotFound(f"link_id: {number} has no link {link_id}", field="link_id")
    view = _view(row, incident, other)
    await session.execute(delete(IncidentLink).where(IncidentLink.id == row.id))
    session.expunge(row)
    for here, there, direction in (
        (incident, other, view.direction),
        (other, incident, _opposite(view.direction)),
    ):
        label = link_label(view.kind, direction).en
        _record(
            session,
            here,
            action=HistoryAction.UNLINK,
            caller=caller,
            field=LINK_FIELD,
            old=f"{label} {there.number}",
            new=None,
            comment=f"No longer {label[0].lower()}{label[1:]} {there.number}",
            now=now,
        )
    await session.flush()


def _opposite(direction: Direction) -> Direction:
    return Direction.INCOMING if direction is Direction.OUTGOING else Direction.OUTGOING


async def list_links(*, session: AsyncSession, caller: Caller, number: str) -> Links:
    """The links of ``number`` (both directions), its parent and its children, each only if
    the caller may see it; oldest link first, children by number."""
    incident = await access_incident(session=session, caller=caller, number=number)
    visible = visible_to(caller).subquery()
    rows = await session.execute(
        select(IncidentLink, Incident)
        .join(
            Incident,
            or_(
                (IncidentLink.source_id == incident.id) & (Incident.id == IncidentLink.target_id),
                (IncidentLink.target_id == incident.id) & (Incident.id == IncidentLink.source_id),
            ),
        )
        .where(Incident.id.in_(select(visible.c.id)))
        .order_by(IncidentLink.created_at, IncidentLink.id)
    )
    links = [_view(row, incident, other) for row, other in rows]
    parent = None
    if incident.parent_id is not None:
        parent = await session.scalar(visible_to(caller).where(Incident.id == incident.parent_id))
    children = await session.scalars(
        visible_to(caller).where(Incident.parent_id == incident.id).order_by(Incident.number)
    )
    return Links(
        number=incident.number,
        links=links,
        parent=None if parent is None else linked(parent),
        children=[linked(child) for child in children],
    )


async def parent_numbers(
    *, session: AsyncSession, caller: Caller, incidents: list[Incident]
) -> dict[int, str]:
    """Incident id → its parent's number, for the parents the caller may see."""
    wanted = {item.parent_id for item in incidents if item.parent_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        visible_to(caller)
        .where(Incident.id.in_(wanted))
        .with_only_columns(Incident.id, Incident.number)
    )
    numbers = {row.id: row.number for row in rows}
    return {
        item.id: numbers[item.parent_id]
        for item in incidents
        if item.parent_id is not None and item.parent_id in numbers
    }
