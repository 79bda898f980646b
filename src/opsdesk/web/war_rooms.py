"""Major incidents and war rooms in the console: the incident page's declare, acknowledge
and downgrade forms, the war-room list (``/war-rooms``) and a war room's page (``/war-rooms/{id}``).

Routes only translate between HTML forms and ``reviews.major_service`` / ``major_team`` /
``war_rooms``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from opsdesk.auth.roles import Caller
from opsdesk.core.bounds import RowId
from opsdesk.core.errors import OpsdeskError
from opsdesk.core.settings import Settings
from opsdesk.incidents import access
from opsdesk.incidents.models import Incident
from opsdesk.relations import links
from opsdesk.relations.link_rules import LinkKind
from opsdesk.reviews import major_service as major
from opsdesk.reviews import major_team, war_rooms
from opsdesk.reviews.major_rules import Declared
from opsdesk.reviews.war_room_states import (
    MOVES,
    STATUS_NAMES,
    WarRoomStatus,
    downgrade_reason,
)
from opsdesk.web.common import (
    _clock,
    _db,
    _done,
    _error_page,
    _level_label,
    _posted,
    _render,
    _signed_in,
    _status_label,
    _text,
    _to_login,
    _user_names,
)
from opsdesk.web.incident_page import refused

DOWNGRADE_FORM = "major-downgrade"

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _staff_only(request: Request, caller: Caller) -> Response:
    return _error_page(
        request,
        caller=caller,
        status_code=403,
        title="Staff only",
        message="Major incidents and war rooms are for staff.",
    )


@router.post("/incidents/{number}/major")
async def declare(request: Request, number: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    if not caller.is_staff:
        return _staff_only(request, caller)
    try:
        async with _db(request).write() as session:
            incident = await access.access_incident(
                session=session, caller=caller, number=number, for_update=True
            )
            await major.declare(
                session,
                incident=incident,
                actor_id=caller.user_id,
                how=Declared.MANUAL,
                reason=_text(form, "reason"),
                now=_clock(request).now(),
                settings=_settings(request),
            )
    except OpsdeskError as exc:
        return _done(
            request, f"/incidents/{number}#major", f"Not declared: {exc.message}", kind="error"
        )
    return _done(request, f"/incidents/{number}#major", "Declared a major incident; team paged.")


@router.post("/incidents/{number}/major/ack/{member_id}")
async def acknowledge(request: Request, number: str, member_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, _form = posted
    try:
        async with _db(request).write() as session:
            incident = await access.access_incident(
                session=session, caller=caller, number=number, for_update=True
            )
            await major_team.acknowledge(
                session,
                caller=caller,
                incident=incident,
                member_id=member_id,
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return _done(
            request, f"/incidents/{number}#major", f"Not acknowledged: {exc.message}", kind="error"
        )
    return _done(request, f"/incidents/{number}#major", "Page acknowledged.")


@router.post("/incidents/{number}/major/downgrade")
async def downgrade(request: Request, number: str) -> Response:
    """Downgrade with a reason; a refusal shows the incident page again, the reason beside
    the field. The service decides who may."""
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    reason = _text(form, "reason").strip()
    try:
        async with _db(request).write() as session:
            incident = await access.access_incident(
                session=session, caller=caller, number=number, for_update=True
            )
            room = await war_rooms.open_room_of(session, incident.id)
            await major.downgrade(
                session, caller=caller, incident=incident, reason=reason, now=_clock(request).now()
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, DOWNGRADE_FORM, form, exc)
    closed = (
        f" War room {room.number} closed."
        if room is not None and room.status == WarRoomStatus.CLOSED
        else ""
    )
    return _done(
        request, f"/incidents/{number}#major", f"Downgraded to an ordinary incident.{closed}"
    )


@router.get("/war-rooms")
async def room_list(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if not caller.is_staff:
        return _staff_only(request, caller)
    raw = request.query_params.get("status", "")
    status = raw if raw in set(WarRoomStatus) else ""
    filters = war_rooms.RoomFilter(statuses=[status] if status else [])
    async with _db(request).read() as session:
        found = await war_rooms.list_rooms(session, caller=caller, filters=filters, limit=PER_PAGE)
        names = await _user_names(session, [room.admin_id for room, _i in found.rows])
    rows = [
        {
            "id": room.id,
            "number": room.number,
            "title": room.title,
            "status": room.status,
            "status_label": STATUS_NAMES[WarRoomStatus(room.status)].en,
            "incident": incident.number,
            "level": _level_label(incident.level),
            "admin": names.get(room.admin_id or "", ""),
            "created_at": room.created_at,
        }
        for room, incident in found.rows
    ]
    return _render(
        request,
        "war_rooms.html",
        {
            "rows": rows,
            "total": found.total,
            "running": found.running,
            "status": status,
            "statuses": [(s.value, STATUS_NAMES[s].en) for s in WarRoomStatus],
        },
        caller=caller,
    )


@router.get("/war-rooms/{room_id}")
async def room_page(request: Request, room_id: RowId) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if not caller.is_staff:
        return _staff_only(request, caller)
    settings = _settings(request)
    async with _db(request).read() as session:
        try:
            room = await war_rooms.get_room(session, room_id)
        except OpsdeskError:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="War room not found",
                message=f"There is no war room {room_id}.",
            )
        incident = await session.get(Incident, room.incident_id)
        assert incident is not None
        row = await major_team.major_of(session, incident.id)
        view = None if row is None else await major.view(session, incident, row, settings=settings)
        entries = await war_rooms.entries_of(session, room.id)
        children = list(
            await session.scalars(
                select(Incident).where(Incident.parent_id == incident.id).order_by(Incident.id)
            )
        )
        names = await _user_names(session, [e.author_id for e in entries] + [room.admin_id])
    status = WarRoomStatus(room.status)
    closing = [e for e in entries if e.status_to == WarRoomStatus.CLOSED]
    return _render(
        request,
        "war_room.html",
        {
            "room": room,
            "incident": incident,
            "level_label": _level_label(incident.level),
            "status_label": STATUS_NAMES[status].en,
            "moves": [
                (move.value, STATUS_NAMES[move].en)
                for move in WarRoomStatus
                if move in MOVES[status]
            ],
            "major": view,
            "may_lead": major_team.may_lead(caller, row),
            "admin_name": names.get(room.admin_id or "", ""),
            "entries": [
                {
                    "kind": entry.kind,
                    "author": names.get(entry.author_id or "", "opsdesk"),
                    "body": entry.body,
                    "status_from": ""
                    if entry.status_from is None
                    else STATUS_NAMES[WarRoomStatus(entry.status_from)].en,
                    "status_to": ""
                    if entry.status_to is None
                    else STATUS_NAMES[WarRoomStatus(entry.status_to)].en,
                    "created_at": entry.created_at,
                }
                for entry in reversed(entries)
            ],
            "children": [
                {
                    "number": child.number,
                    "title": child.title,
                    "status_label": _status_label(child.status),
                }
                for child in children
            ],
            "is_open": status != WarRoomStatus.CLOSED,
            # The reason ("" if none) when a downgrade closed the room, else None.
            "downgraded": downgrade_reason(closing[-1].body) if closing else None,
        },
        caller=caller,
    )


@router.post("/war-rooms/{room_id}/status")
async def room_status(request: Request, room_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    url = f"/war-rooms/{room_id}"
    try:
        async with _db(request).write() as session:
            major_team.require_staff(caller)
            room = await war_rooms.get_room(session, room_id, for_update=True)
            incident = await session.get(Incident, room.incident_id)
            assert incident is not None
            major_team.require_lead(
                caller, await major_team.major_of(session, incident.id), "change it"
            )
            raw = _text(form, "status")
            if raw not in set(WarRoomStatus):
                return _done(
                    request, url, f"Not changed: status: unknown status {raw!r}", kind="error"
                )
            await war_rooms.set_status(
                session,
                caller=caller,
                room=room,
                incident=incident,
                status=WarRoomStatus(raw),
                now=_clock(request).now(),
                fault_cause=_text(form, "fault_cause") or None,
                fault_impact=_text(form, "fault_impact") or None,
                note=_text(form, "note"),
            )
    except OpsdeskError as exc:
        return _done(request, url, f"Not changed: {exc.message}", kind="error")
    return _done(request, url, f"War room now: {STATUS_NAMES[WarRoomStatus(raw)].en}.")


@router.post("/war-rooms/{room_id}/notes")
async def room_note(request: Request, room_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    url = f"/war-rooms/{room_id}"
    try:
        async with _db(request).write() as session:
            major_team.require_staff(caller)
            room = await war_rooms.get_room(session, room_id, for_update=True)
            await war_rooms.add_note(
                session,
                caller=caller,
                room=room,
                body=_text(form, "body").replace("\r\n", "\n"),
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return _done(request, url, f"Not posted: {exc.message}", kind="error")
    return _done(request, url, "Update posted.")


@router.post("/war-rooms/{room_id}/children")
async def room_child(request: Request, room_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    url = f"/war-rooms/{room_id}"
    child = _text(form, "number").strip()
    try:
        async with _db(request).write() as session:
            major_team.require_staff(caller)
            room = await war_rooms.get_room(session, room_id)
            incident = await session.get(Incident, room.incident_id)
            assert incident is not None
            await links.add_link(
                session=session,
                caller=caller,
                number=incident.number,
                kind=LinkKind.CHILD,
                other_number=child,
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return _done(request, url, f"Not linked: {exc.message}", kind="error")
    return _done(request, url, f"{child} linked as a child incident.")
