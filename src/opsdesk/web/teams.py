"""The Teams page: who is on duty now, each workgroup's members and load, my availability."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import technicians as assignment_technicians
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.schemas import TechnicianUpdate
from opsdesk.incidents.assigning import open_counter
from opsdesk.web.common import (
    EMPTY,
    _caller,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _error_page,
    _flash,
    _format_time,
    _redirect,
    _render,
    _to_login,
)

router = APIRouter(include_in_schema=False)

STRATEGY_LABELS = {
    "round_robin": "Round-robin",
    "least_loaded": "Least loaded",
    "queue": "Queue (members pick)",
}


@dataclass(frozen=True)
class DutyRow:
    scene: str
    role: str
    person: str
    reason: str
    until: str


@dataclass(frozen=True)
class MemberRow:
    name: str
    open_count: int
    state: str


@dataclass(frozen=True)
class GroupRow:
    name: str
    key: str
    strategy: str
    members: list[MemberRow]


@router.get("/teams")
async def teams_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not caller.is_staff:
            return _error_page(
                request,
                caller=caller,
                status_code=403,
                title="Staff only",
                message="Teams and shift schedules are for the service desk's staff.",
            )
        now = _clock(request).now()
        people = {
            person.user_id: person
            for person in await assignment_technicians.list_technicians(
                session=session, caller=caller, now=now
            )
        }
        duty_rows = []
        for scene in await assignment_shifts.list_scenes(session=session, caller=caller):
            for role in scene.roles:
                duty = await assignment_shifts.on_duty(
                    session=session, scene=scene.key, role=role.key, at=now
                )
                person = people.get(duty.user_id or "")
                until = duty.override.ends_at if duty.override else None
                if until is None and duty.turn is not None:
                    until = duty.turn.ends_at
                duty_rows.append(
                    DutyRow(
                        scene=scene.name,
                        role=role.name,
                        person=EMPTY if person is None else person.name,
                        reason=duty.reason,
                        until=_format_time(until),
                    )
                )
        groups = await assignment_workgroups.list_workgroups(session=session, caller=caller)
        counts = await open_counter(session)(list(people))
        group_rows = [
            GroupRow(
                name=group.name,
                key=group.key,
                strategy=STRATEGY_LABELS.get(group.strategy, group.strategy),
                members=[
                    MemberRow(
                        name=people[user_id].name,
                        open_count=counts.get(user_id, 0),
                        state=_state(people[user_id].available, people[user_id].away),
                    )
                    for user_id in group.members
                    if user_id in people
                ],
            )
            for group in groups
            if group.enabled
        ]
        me = people.get(caller.user_id)
    return _render(
        request,
        "teams.html",
        {
            "duty_rows": duty_rows,
            "groups": group_rows,
            "available": True if me is None else me.available,
            "now": _format_time(now),
        },
        caller=caller,
    )


def _state(available: bool, away: bool) -> str:
    if not available:
        return "Unavailable"
    return "Away" if away else "Available"


@router.post("/teams/availability")
async def set_my_availability(request: Request) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not _csrf_ok(request, form):
            return _csrf_failed(request, caller)
        if not caller.is_staff:
            return _error_page(
                request,
                caller=caller,
                status_code=403,
                title="Staff only",
                message="Only staff take incidents, so only staff have an availability.",
            )
        available = form.get("available") == "yes"
        await assignment_technicians.update_technician(
            session=session,
            caller=caller,
            user_id=caller.user_id,
            data=TechnicianUpdate(available=available),
            now=_clock(request).now(),
        )
    if available:
        _flash(request, "You are available: new incidents may be assigned to you.")
    else:
        _flash(
            request,
            "You are unavailable: assignment rules skip you until you switch back.",
            kind="info",
        )
    return _redirect("/teams")
