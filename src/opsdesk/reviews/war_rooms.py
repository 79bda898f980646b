"""War rooms: the room of a major incident, its COC statuses and its own timeline.

A war room belongs to one incident; an incident has at most one open room (not closed).
Status changes write a timeline entry and an incident history row; notes and members
write timeline entries. ``coc_info`` is the room as COC's ``WarRoomTenantInfo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

import orjson
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.clock import epoch_ms
from opsdesk.core.errors import Forbidden, NotFound, ValidationFailed
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.reviews.major_models import TeamMember, WarRoom, WarRoomEntry
from opsdesk.reviews.war_room_states import (
    STATUS_NAMES,
    MoveRefused,
    WarRoomStatus,
    check_move,
)

NOTE_MAX = 10_000
# What counts as an update for the reminders: a note, or a status change.
UPDATE_KINDS = ("note", "status")


async def open_room_of(session: AsyncSession, incident_id: int) -> WarRoom | None:
    return await session.scalar(
        select(WarRoom)
        .where(WarRoom.incident_id == incident_id, WarRoom.status != WarRoomStatus.CLOSED.value)
        .order_by(WarRoom.id.desc())
        .limit(1)
    )


async def rooms_of(session: AsyncSession, incident_id: int) -> list[WarRoom]:
    rows = await session.scalars(
        select(WarRoom).where(WarRoom.incident_id == incident_id).order_by(WarRoom.id.desc())
    )
    return list(rows)


async def create_room(
    session: AsyncSession,
    *,
    incident: Incident,
    actor_id: str | None,
    now: datetime,
    admin_id: str | None,
    title: str,
    description: str = "",
    regions: Sequence[dict[str, Any]] | None = None,
    applications: Sequence[dict[str, Any]] | None = None,
    enterprise_project: str | None = None,
    schedule_groups: Sequence[dict[str, Any]] = (),
    notification_type: str | None = None,
) -> WarRoom:
    room = WarRoom(
        number=uuid4().hex[:40],  # replaced below, once the id is known
        incident_id=incident.id,
        title=title[:200],
        description=description,
        status=WarRoomStatus.STARTED.value,
        admin_id=admin_id,
        regions=list(regions)
        if regions is not None
        else ([{"code": incident.region, "name": incident.region}] if incident.region else []),
        applications=list(applications)
        if applications is not None
        else (
            [{"id": incident.application, "name": incident.application}]
            if incident.application
            else []
        ),
        enterprise_project=enterprise_project or incident.enterprise_project,
        schedule_groups=list(schedule_groups),
        notification_type=notification_type,
        fault_cause="",
        fault_impact="",
        created_by=actor_id,
        created_at=now,
        updated_at=now,
    )
    session.add(room)
    await session.flush()
    room.number = f"WR{now:%Y%m%d%H%M%S}{room.id:06d}"
    session.add(
        WarRoomEntry(
            war_room_id=room.id,
            kind="created",
            author_id=actor_id,
            body=f"War room {room.number} started",
            status_to=WarRoomStatus.STARTED.value,
            created_at=now,
        )
    )
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.WAR_ROOM,
            operator_id=actor_id,
            now=now,
            changes=[{"field": "war_room", "old": None, "new": room.number}],
            comment=f"War room {room.number} started",
        )
    )
    await session.flush()
    return room


async def add_entry(
    session: AsyncSession,
    *,
    incident_id: int,
    kind: str,
    author_id: str | None,
    body: str,
    now: datetime,
) -> WarRoomEntry | None:
    """An entry in the incident's open war room, if it has one."""
    room = await open_room_of(session, incident_id)
    if room is None:
        return None
    entry = WarRoomEntry(
        war_room_id=room.id, kind=kind, author_id=author_id, body=body, created_at=now
    )
    session.add(entry)
    await session.flush()
    return entry


async def last_entry_at(session: AsyncSession, incident_id: int) -> datetime | None:
    """The newest note or status change in any war room of ``incident_id``."""
    return await session.scalar(
        select(func.max(WarRoomEntry.created_at))
        .join(WarRoom, WarRoom.id == WarRoomEntry.war_room_id)
        .where(WarRoom.incident_id == incident_id, WarRoomEntry.kind.in_(UPDATE_KINDS))
    )


async def get_room(session: AsyncSession, room_id: int, *, for_update: bool = False) -> WarRoom:
    query = select(WarRoom).where(WarRoom.id == room_id)
    if for_update:
        query = query.with_for_update()
    room = await session.scalar(query)
    if room is None:
        raise NotFound(f"no war room {room_id}", field="war_room_id")
    return room


async def entries_of(session: AsyncSession, room_id: int) -> list[WarRoomEntry]:
    rows = await session.scalars(
        select(WarRoomEntry)
        .where(WarRoomEntry.war_room_id == room_id)
        .order_by(WarRoomEntry.created_at, WarRoomEntry.id)
    )
    return list(rows)


def _staff(caller: Caller) -> None:
    if not caller.is_staff:
        raise Forbidden("war rooms are for staff")


async def set_status(
    session: AsyncSession,
    *,
    caller: Caller,
    room: WarRoom,
    incident: Incident,
    status: WarRoomStatus,
    now: datetime,
    fault_cause: str | None = None,
    fault_impact: str | None = None,
    note: str = "",
    downgraded: bool = False,
) -> WarRoom:
    """Move the room to ``status`` (the caller's right to is checked by the caller);
    ``downgraded``: its incident is no longer major (see ``check_move``)."""
    _staff(caller)
    if fault_cause is not None:
        room.fault_cause = fault_cause
    if fault_impact is not None:
        room.fault_impact = fault_impact
    current = WarRoomStatus(room.status)
    if status == current:
        room.updated_at = now
        await session.flush()
        return room
    try:
        check_move(
            current,
            status,
            fault_cause=room.fault_cause,
            fault_impact=room.fault_impact,
            downgraded=downgraded,
        )
    except MoveRefused as exc:
        raise ValidationFailed(exc.message, field=exc.field) from None
    room.status = status.value
    room.updated_at = now
    if status == WarRoomStatus.RECOVERED:
        room.recovered_at = now
    if status == WarRoomStatus.CLOSED:
        room.closed_at = now
    old_name, new_name = STATUS_NAMES[current].en, STATUS_NAMES[status].en
    text = f"{old_name} → {new_name}" + (f": {note.strip()}" if note.strip() else "")
    session.add(
        WarRoomEntry(
            war_room_id=room.id,
            kind="status",
            author_id=caller.user_id,
            body=note.strip()[:NOTE_MAX],
            status_from=current.value,
            status_to=status.value,
            created_at=now,
        )
    )
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.WAR_ROOM,
            operator_id=caller.user_id,
            now=now,
            changes=[{"field": "war_room_status", "old": current.value, "new": status.value}],
            comment=f"War room {room.number}: {text}",
        )
    )
    await session.flush()
    return room


async def add_note(
    session: AsyncSession, *, caller: Caller, room: WarRoom, body: str, now: datetime
) -> WarRoomEntry:
    _staff(caller)
    text = body.strip()
    if not text:
        raise ValidationFailed("body: must not be empty", field="body")
    if len(text) > NOTE_MAX:
        raise ValidationFailed(f"body: at most {NOTE_MAX} characters", field="body")
    if room.status == WarRoomStatus.CLOSED.value:
        raise ValidationFailed("war_room_id: the war room is closed", field="war_room_id")
    entry = WarRoomEntry(
        war_room_id=room.id, kind="note", author_id=caller.user_id, body=text, created_at=now
    )
    session.add(entry)
    room.updated_at = now
    await session.flush()
    return entry


# Lists -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomFilter:
    """What narrows a list of war rooms; every part is optional (COC's ListWarRooms)."""

    numbers: Sequence[str] = ()
    incident_number: str | None = None
    title: str | None = None
    statuses: Sequence[str] = ()
    admins: Sequence[str] = ()
    levels: Sequence[str] = ()
    regions: Sequence[str] = ()
    applications: Sequence[str] = ()
    members: Sequence[str] = ()
    enterprise_projects: Sequence[str] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None


def _in_json(column: Any, codes: Sequence[str]) -> Any:
    """The JSON list of {code|id, name} holds one of ``codes`` (as a quoted string: the same
    text on both backends, and a code is never a part of another quoted one)."""
    text = cast(column, String)
    return or_(*(text.contains(orjson.dumps(code).decode()) for code in codes))


def _where(filters: RoomFilter) -> list[Any]:
    if filters.numbers:
        return [WarRoom.number.in_(list(filters.numbers))]
    where: list[Any] = []
    if filters.incident_number:
        where.append(Incident.number == filters.incident_number)
    if filters.title:
        escaped = filters.title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(WarRoom.title.ilike(f"%{escaped}%", escape="\\"))
    if filters.statuses:
        where.append(WarRoom.status.in_(list(filters.statuses)))
    if filters.admins:
        where.append(WarRoom.admin_id.in_(list(filters.admins)))
    if filters.levels:
        where.append(Incident.level.in_(list(filters.levels)))
    if filters.regions:
        where.append(_in_json(WarRoom.regions, filters.regions))
    if filters.applications:
        where.append(_in_json(WarRoom.applications, filters.applications))
    if filters.enterprise_projects:
        where.append(WarRoom.enterprise_project.in_(list(filters.enterprise_projects)))
    if filters.members:
        members = select(TeamMember.incident_id).where(
            TeamMember.user_id.in_(list(filters.members))
        )
        where.append(WarRoom.incident_id.in_(members) | WarRoom.admin_id.in_(list(filters.members)))
    if filters.created_from is not None:
        where.append(WarRoom.created_at >= filters.created_from)
    if filters.created_to is not None:
        where.append(WarRoom.created_at <= filters.created_to)
    return where


@dataclass(frozen=True)
class RoomPage:
    rows: list[tuple[WarRoom, Incident]]
    total: int
    running: int
    closed: int


async def list_rooms(
    session: AsyncSession,
    *,
    caller: Caller,
    filters: RoomFilter,
    offset: int = 0,
    limit: int = 20,
    counts_only: bool = False,
) -> RoomPage:
    _staff(caller)
    where = _where(filters)
    base = (
        select(WarRoom, Incident).join(Incident, Incident.id == WarRoom.incident_id).where(*where)
    )
    counted = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(WarRoom.status == WarRoomStatus.CLOSED.value),
            )
            .select_from(WarRoom)
            .join(Incident, Incident.id == WarRoom.incident_id)
            .where(*where)
        )
    ).one()
    total, closed = int(counted[0]), int(counted[1])
    rows: list[tuple[WarRoom, Incident]] = []
    if not counts_only:
        result = await session.execute(
            base.order_by(WarRoom.created_at.desc(), WarRoom.id.desc()).offset(offset).limit(limit)
        )
        rows = [(room, incident) for room, incident in result.all()]
    return RoomPage(rows=rows, total=total, running=total - closed, closed=closed)


# COC's WarRoomTenantInfo ------------------------------------------------------------------


def _minutes(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


async def coc_info(
    session: AsyncSession, room: WarRoom, incident: Incident, *, public_url: str, now: datetime
) -> dict[str, Any]:
    """The room in COC's ``WarRoomTenantInfo`` field names and types."""
    team = await session.scalars(select(TeamMember).where(TeamMember.incident_id == incident.id))
    members = list(team)
    first_note = await session.scalar(
        select(func.min(WarRoomEntry.created_at)).where(
            WarRoomEntry.war_room_id == room.id, WarRoomEntry.kind == "note"
        )
    )
    status = STATUS_NAMES[WarRoomStatus(room.status)]
    occurred = incident.fault_occurred_at or incident.created_at
    end = room.closed_at or now
    info: dict[str, Any] = {
        "id": str(room.id),
        "title": room.title,
        "admin": room.admin_id,
        "recover_member": [m.user_id for m in members if m.role == "technical_lead"],
        "recover_leader": [m.user_id for m in members if m.role == "incident_manager"],
        "incident": {
            "id": str(incident.id),
            "incident_id": incident.number,
            "is_change_event": False,
            "failure_level": incident.level,
            "incident_url": f"{public_url.rstrip('/')}/incidents/{incident.number}",
        },
        "source": incident.source,
        "regions": [{"code": r.get("code"), "name": r.get("name")} for r in room.regions],
        "occur_time": epoch_ms(occurred),
        "recover_time": None if room.recovered_at is None else epoch_ms(room.recovered_at),
        "fault_cause": room.fault_cause,
        "create_time": epoch_ms(room.created_at),
        "first_report_time": None if first_note is None else epoch_ms(first_note),
        "recovery_notification_time": None
        if room.recovered_at is None
        else epoch_ms(room.recovered_at),
        "fault_impact": room.fault_impact,
        "description": room.description,
        "circular_level": incident.level,
        "war_room_status": {
            "id": status.coc_id,
            "name_zh": status.zh,
            "name_en": status.en,
            "type": "war_room_status",
        },
        "impacted_application": [
            {"id": a.get("id"), "name": a.get("name")} for a in room.applications
        ],
        "processing_duration": _minutes(room.created_at, end),
        "restoration_duration": None
        if room.recovered_at is None
        else _minutes(occurred, room.recovered_at),
        "war_room_num": room.number,
        "enterprise_project_id": room.enterprise_project,
    }
    return info
