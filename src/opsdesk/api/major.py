"""Major incident and war-room routes: ``/api/v1/incidents/{number}/major…`` and
``/api/v1/war-rooms…``. Translation only; the rules are in ``reviews/major_service.py``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.api.deps import DB, ClockDep, StaffCaller
from opsdesk.auth.roles import Caller
from opsdesk.core.bounds import PageNumber, RowId
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents import access
from opsdesk.incidents.models import Incident
from opsdesk.relations import links
from opsdesk.relations.link_rules import LinkKind
from opsdesk.reviews import major_service as major
from opsdesk.reviews import major_team, war_rooms
from opsdesk.reviews.major_models import WarRoom
from opsdesk.reviews.major_rules import Declared
from opsdesk.reviews.major_schemas import (
    ChildIn,
    DeclareIn,
    EntryOut,
    MajorOut,
    MemberIn,
    MemberOut,
    NoteIn,
    WarRoomCreate,
    WarRoomOut,
    WarRoomPageOut,
    WarRoomPatch,
)
from opsdesk.reviews.war_room_states import WarRoomStatus

router = APIRouter(tags=["major incidents"])
Number = Annotated[str, Path(min_length=1, max_length=50)]
PerPage = Annotated[int, Query(ge=1, le=100)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _team(body: DeclareIn | WarRoomCreate) -> major_team.TeamRequest:
    return major_team.TeamRequest(
        manager_id=body.manager_id,
        communications_lead_id=getattr(body, "communications_lead_id", None),
        technical_leads=list(getattr(body, "technical_leads", [])),
        technical_workgroups=list(body.technical_workgroups),
        technical_shifts=[major_team.Shift(s.scene, s.role) for s in body.technical_shifts],
    )


async def _incident(
    session: AsyncSession, caller: Caller, number: str, *, for_update: bool = False
) -> Incident:
    major_team.require_staff(caller)
    return await access.access_incident(
        session=session, caller=caller, number=number, for_update=for_update
    )


async def _major_out(session: AsyncSession, incident: Incident, settings: Settings) -> MajorOut:
    row = await major_team.major_of(session, incident.id)
    if row is None:
        raise NotFound(f"incident {incident.number} was never declared major", field="number")
    view = await major.view(session, incident, row, settings=settings)
    return MajorOut.model_validate(asdict(view))


@router.post("/api/v1/incidents/{number}/major", response_model=MajorOut)
async def declare(
    number: Number,
    body: DeclareIn,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
    response: Response,
) -> MajorOut:
    """Declare the incident major (staff): opens its war room, assembles and pages the
    response team. 201 when declared now, 200 when it already was (nothing changes)."""
    settings = _settings(request)
    async with db.write() as session:
        incident = await _incident(session, caller, number, for_update=True)
        _row, declared = await major.declare(
            session,
            incident=incident,
            actor_id=caller.user_id,
            how=Declared.MANUAL,
            reason=body.reason,
            now=clock.now(),
            settings=settings,
            team=_team(body),
        )
        out = await _major_out(session, incident, settings)
    response.status_code = 201 if declared else 200
    return out


@router.get("/api/v1/incidents/{number}/major", response_model=MajorOut)
async def get_major(number: Number, caller: StaffCaller, db: DB, request: Request) -> MajorOut:
    """The declaration, the team, the war room and when an update is due (staff)."""
    async with db.read() as session:
        incident = await _incident(session, caller, number)
        return await _major_out(session, incident, _settings(request))


@router.delete("/api/v1/incidents/{number}/major", response_model=MajorOut)
async def downgrade(
    number: Number,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
    reason: Annotated[str, Query(max_length=2000)] = "",
) -> MajorOut:
    """Downgrade to an ordinary incident (incident managers, or its major manager)."""
    async with db.write() as session:
        incident = await _incident(session, caller, number, for_update=True)
        await major.downgrade(
            session, caller=caller, incident=incident, reason=reason, now=clock.now()
        )
        return await _major_out(session, incident, _settings(request))


@router.get("/api/v1/incidents/{number}/major/team", response_model=list[MemberOut])
async def get_team(
    number: Number, caller: StaffCaller, db: DB, request: Request
) -> list[MemberOut]:
    async with db.read() as session:
        incident = await _incident(session, caller, number)
        return (await _major_out(session, incident, _settings(request))).team


@router.post(
    "/api/v1/incidents/{number}/major/team", status_code=201, response_model=list[MemberOut]
)
async def add_member(
    number: Number, body: MemberIn, caller: StaffCaller, db: DB, clock: ClockDep, request: Request
) -> list[MemberOut]:
    """Add a person in a role and page them (incident managers, or the major manager)."""
    settings = _settings(request)
    async with db.write() as session:
        incident = await _incident(session, caller, number, for_update=True)
        await major_team.add_member(
            session,
            caller=caller,
            incident=incident,
            user_id=body.user_id,
            role=body.role,
            now=clock.now(),
            settings=settings,
        )
        return (await _major_out(session, incident, settings)).team


@router.delete("/api/v1/incidents/{number}/major/team/{member_id}", status_code=204)
async def remove_member(
    number: Number, member_id: RowId, caller: StaffCaller, db: DB, clock: ClockDep
) -> Response:
    async with db.write() as session:
        incident = await _incident(session, caller, number, for_update=True)
        await major_team.remove_member(
            session, caller=caller, incident=incident, member_id=member_id, now=clock.now()
        )
    return Response(status_code=204)


@router.post("/api/v1/incidents/{number}/major/team/{member_id}/ack", response_model=MemberOut)
async def acknowledge(
    number: Number, member_id: RowId, caller: StaffCaller, db: DB, clock: ClockDep, request: Request
) -> MemberOut:
    """The paged person acknowledges their page."""
    async with db.write() as session:
        incident = await _incident(session, caller, number, for_update=True)
        member = await major_team.acknowledge(
            session, caller=caller, incident=incident, member_id=member_id, now=clock.now()
        )
        team = (await _major_out(session, incident, _settings(request))).team
    return next(m for m in team if m.id == member.id)


# War rooms ---------------------------------------------------------------------------------


def room_out(room: WarRoom, incident: Incident) -> WarRoomOut:
    return WarRoomOut(
        id=room.id,
        number=room.number,
        incident_number=incident.number,
        incident_title=incident.title,
        level=incident.level,
        title=room.title,
        description=room.description,
        status=WarRoomStatus(room.status),
        admin_id=room.admin_id,
        regions=room.regions,
        applications=room.applications,
        fault_cause=room.fault_cause,
        fault_impact=room.fault_impact,
        created_at=room.created_at,
        updated_at=room.updated_at,
        recovered_at=room.recovered_at,
        closed_at=room.closed_at,
    )


async def _room(
    session: AsyncSession, caller: Caller, room_id: int, *, for_update: bool = False
) -> tuple[WarRoom, Incident]:
    major_team.require_staff(caller)
    room = await war_rooms.get_room(session, room_id, for_update=for_update)
    incident = await session.get(Incident, room.incident_id)
    assert incident is not None
    return room, incident


@router.get("/api/v1/war-rooms", response_model=WarRoomPageOut)
async def list_rooms(
    caller: StaffCaller,
    db: DB,
    status: Annotated[list[WarRoomStatus] | None, Query()] = None,
    incident_number: Annotated[str | None, Query(max_length=50)] = None,
    page: PageNumber = 1,
    per_page: PerPage = 25,
) -> WarRoomPageOut:
    """War rooms, newest first, narrowed by status and incident (staff)."""
    filters = war_rooms.RoomFilter(
        statuses=[s.value for s in status or []], incident_number=incident_number
    )
    async with db.read() as session:
        found = await war_rooms.list_rooms(
            session, caller=caller, filters=filters, offset=(page - 1) * per_page, limit=per_page
        )
    return WarRoomPageOut(
        items=[room_out(room, incident) for room, incident in found.rows],
        total=found.total,
        page=page,
        per_page=per_page,
    )


@router.post("/api/v1/war-rooms", status_code=201, response_model=WarRoomOut)
async def create_room(
    body: WarRoomCreate, caller: StaffCaller, db: DB, clock: ClockDep, request: Request
) -> WarRoomOut:
    """Start a war room for an incident (staff); declares it major first if needed. 409
    when it already has an open war room."""
    async with db.write() as session:
        incident = await _incident(session, caller, body.incident_number, for_update=True)
        ref = await major.start_war_room(
            session,
            caller=caller,
            incident=incident,
            now=clock.now(),
            settings=_settings(request),
            title=body.title,
            description=body.description,
            team=_team(body),
        )
        room = await war_rooms.get_room(session, ref.id)
        return room_out(room, incident)


@router.get("/api/v1/war-rooms/{room_id}", response_model=WarRoomOut)
async def get_room(room_id: RowId, caller: StaffCaller, db: DB) -> WarRoomOut:
    async with db.read() as session:
        room, incident = await _room(session, caller, room_id)
    return room_out(room, incident)


@router.patch("/api/v1/war-rooms/{room_id}", response_model=WarRoomOut)
async def patch_room(
    room_id: RowId, body: WarRoomPatch, caller: StaffCaller, db: DB, clock: ClockDep
) -> WarRoomOut:
    """Move the status (started → fault_delimitation → recovered → closed; recovered may go
    back to fault_delimitation); closing needs fault_cause and fault_impact. Incident
    managers, or the major incident's manager."""
    async with db.write() as session:
        room, incident = await _room(session, caller, room_id, for_update=True)
        row = await major_team.major_of(session, incident.id)
        major_team.require_lead(caller, row, "change the war room")
        await war_rooms.set_status(
            session,
            caller=caller,
            room=room,
            incident=incident,
            status=body.status or WarRoomStatus(room.status),
            now=clock.now(),
            fault_cause=body.fault_cause,
            fault_impact=body.fault_impact,
            note=body.note,
        )
    return room_out(room, incident)


@router.get("/api/v1/war-rooms/{room_id}/timeline", response_model=list[EntryOut])
async def timeline(room_id: RowId, caller: StaffCaller, db: DB) -> list[EntryOut]:
    async with db.read() as session:
        room, _incident = await _room(session, caller, room_id)
        entries = await war_rooms.entries_of(session, room.id)
    return [EntryOut.model_validate(entry, from_attributes=True) for entry in entries]


@router.post("/api/v1/war-rooms/{room_id}/timeline", status_code=201, response_model=EntryOut)
async def add_note(
    room_id: RowId, body: NoteIn, caller: StaffCaller, db: DB, clock: ClockDep
) -> EntryOut:
    """Post an update to the war room's timeline (staff): it resets the update reminder."""
    async with db.write() as session:
        room, _incident = await _room(session, caller, room_id, for_update=True)
        entry = await war_rooms.add_note(
            session, caller=caller, room=room, body=body.body, now=clock.now()
        )
        return EntryOut.model_validate(entry, from_attributes=True)


@router.post("/api/v1/war-rooms/{room_id}/children", status_code=201)
async def add_child(
    room_id: RowId, body: ChildIn, caller: StaffCaller, db: DB, clock: ClockDep
) -> dict[str, str]:
    """Link a child incident to the war room's incident (relations' parent/child: resolving
    the parent resolves it)."""
    async with db.write() as session:
        _room_row, incident = await _room(session, caller, room_id)
        if body.number == incident.number:
            raise ValidationFailed("number: an incident cannot be its own child", field="number")
        await links.add_link(
            session=session,
            caller=caller,
            number=incident.number,
            kind=LinkKind.CHILD,
            other_number=body.number,
            now=clock.now(),
        )
    return {"parent": incident.number, "child": body.number}
