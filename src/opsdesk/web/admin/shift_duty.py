"""Shift role admin pages: who is on duty (a four-week calendar), the role's rotations (add,
edit, delete) and overrides (add, remove)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from opsdesk.assignment import rotation as rotations
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.models import ShiftRotation
from opsdesk.assignment.schemas import OverrideCreate, RotationCreate, RotationUpdate
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.admin.shifts import missing_shift
from opsdesk.web.common import _clock, _db, _fault_time, _format_time, _text, _user_names

router = APIRouter(include_in_schema=False)

WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]
CALENDAR_DAYS = 28
ROTATION_INPUTS = (
    "name",
    "start_date",
    "end_date",
    "handoff",
    "turn_days",
    "priority",
    "window_start",
    "window_end",
)


def ordered_people(form: FormData, prefix: str) -> tuple[list[str], str | None]:
    """People given a place ("prefix-<id>" = 1, 2, …) in that order; blank leaves them out."""
    places: list[tuple[int, str]] = []
    for name, value in form.multi_items():
        if not name.startswith(prefix) or not isinstance(value, str) or not value.strip():
            continue
        try:
            places.append((int(value), name.removeprefix(prefix)))
        except ValueError:
            return [], "Give each person's place as a whole number."
    return [user_id for _place, user_id in sorted(places)], None


async def _departed(
    session: AsyncSession, caller: Caller, scene_key: str, role_key: str, rotation_id: int
) -> list[str]:
    """Members of the rotation who are no longer active staff: its form cannot offer them."""
    rows = await assignment_shifts.list_rotations(
        session=session, caller=caller, scene_key=scene_key, role_key=role_key
    )
    row = next((item for item in rows if item.id == rotation_id), None)
    if row is None:
        return []
    active = {user.id for user in await auth_service.active_staff(session=session)}
    return [user_id for user_id in row.members if user_id not in active]


async def _staff(request: Request) -> list[tuple[str, str]]:
    async with _db(request).read() as session:
        staff = await auth_service.active_staff(session=session)
    return [(user.id, user.name) for user in staff]


# Roles: rotations, overrides and who is on duty -------------------------------------------


async def _calendar(
    request: Request, scene: str, role: str, time_zone: str, names: dict[str, str]
) -> list[list[dict[str, Any]]]:
    """Four weeks from this Monday: who is on duty at noon of each day, scene time."""
    tz = rotations.zone(time_zone)
    today = _clock(request).now().astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    weeks: list[list[dict[str, Any]]] = []
    async with _db(request).read() as session:
        for offset in range(CALENDAR_DAYS):
            day = monday + timedelta(days=offset)
            noon = datetime.combine(day, time(12, 0), tzinfo=tz).astimezone(UTC)
            duty = await assignment_shifts.on_duty(session=session, scene=scene, role=role, at=noon)
            if offset % 7 == 0:
                weeks.append([])
            weeks[-1].append(
                {
                    "date": day.isoformat(),
                    "label": day.strftime("%a %d %b"),
                    "today": day == today,
                    "who": names.get(duty.user_id, duty.user_id) if duty.user_id else None,
                    "override": duty.override is not None,
                }
            )
    return weeks


async def _role_page(
    request: Request,
    caller: Caller,
    scene_key: str,
    role_key: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    now = _clock(request).now()
    async with _db(request).read() as session:
        try:
            scene = await assignment_shifts.get_scene(session=session, caller=caller, key=scene_key)
            rows = await assignment_shifts.list_rotations(
                session=session, caller=caller, scene_key=scene_key, role_key=role_key
            )
            overrides = await assignment_shifts.list_overrides(
                session=session,
                caller=caller,
                scene_key=scene_key,
                role_key=role_key,
                since=now,
                until=now + timedelta(days=CALENDAR_DAYS + 7),
            )
        except NotFound:
            return missing_shift(request, caller)
    role = next(item for item in scene.roles if item.key == role_key)
    staff = await _staff(request)
    names = dict(staff)
    return render_admin(
        request,
        "admin/shift_role.html",
        {
            "scene": scene,
            "role": role,
            "rotations": [
                {
                    "id": row.id,
                    "name": row.name,
                    "members": [names.get(uid, uid) for uid in row.members],
                    "starts": row.start_date.isoformat(),
                    "ends": row.end_date.isoformat() if row.end_date else "open-ended",
                    "handoff": row.handoff.strftime("%H:%M"),
                    "turn_days": row.turn_days,
                    "priority": row.priority,
                    "weekdays": ", ".join(label for day, label in WEEKDAYS if day in row.weekdays),
                    "window": (
                        f"{row.window_start:%H:%M} to {row.window_end:%H:%M}"
                        if row.window_start and row.window_end
                        else "all day"
                    ),
                }
                for row in rows
            ],
            "overrides": [
                {
                    "id": row.id,
                    "who": names.get(row.user_id, row.user_id),
                    "starts": _format_time(row.starts_at),
                    "ends": _format_time(row.ends_at),
                    "reason": row.reason,
                }
                for row in overrides
            ],
            "calendar": await _calendar(request, scene_key, role_key, scene.time_zone, names),
            "staff": staff,
            "weekdays": WEEKDAYS,
        },
        caller=caller,
        errors=errors,
        values={
            "start_date": now.date().isoformat(),
            "handoff": "09:00",
            "turn_days": "7",
            "priority": "100",
            "weekdays": [day for day, _label in WEEKDAYS],
            "places": {},
            **(values or {}),
        },
    )


@router.get("/admin/shifts/{scene}/{role}")
async def role_page(request: Request, scene: str, role: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _role_page(request, caller, scene, role)


def _rotation_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """What the rotation form shows again (as typed), the data for the schema, and a
    members error; the add and edit forms read the same inputs."""
    values: dict[str, Any] = {name: _text(form, name) for name in ROTATION_INPUTS}
    weekdays = [
        int(day) for day in form.getlist("weekdays") if isinstance(day, str) and day.isdigit()
    ]
    members, members_error = ordered_people(form, "member-")
    values["weekdays"] = weekdays
    values["places"] = {
        name.removeprefix("member-"): value
        for name, value in form.multi_items()
        if name.startswith("member-") and isinstance(value, str)
    }
    data = {
        **{name: values[name].strip() or None for name in ROTATION_INPUTS},
        "name": values["name"],
        "members": members,
        "weekdays": weekdays,
    }
    return values, data, members_error


@router.post("/admin/shifts/{scene}/{role}/rotations")
async def add_rotation(request: Request, scene: str, role: str) -> Response:
    form = await request.form()
    values, fields, members_error = _rotation_form(form)
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            if members_error:
                raise FormInvalid({"members": members_error})
            data = validated(RotationCreate, fields)
            await assignment_shifts.add_rotation(
                session=session,
                caller=caller,
                scene_key=scene,
                role_key=role,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound as exc:
            if exc.field in {"assignee_scene", "assignee_role"}:
                return missing_shift(request, caller)
            errors = errors_of(exc)
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, f"Rotation {data.name} added.", f"/admin/shifts/{scene}/{role}")
    return await _role_page(request, caller, scene, role, errors=errors, values=values)


def _rotation_values(row: ShiftRotation) -> dict[str, Any]:
    """A stored rotation as its edit form shows it."""
    return {
        "name": row.name,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat() if row.end_date else "",
        "handoff": row.handoff.strftime("%H:%M"),
        "turn_days": str(row.turn_days),
        "priority": str(row.priority),
        "window_start": row.window_start.strftime("%H:%M") if row.window_start else "",
        "window_end": row.window_end.strftime("%H:%M") if row.window_end else "",
        "weekdays": list(row.weekdays) or [day for day, _label in WEEKDAYS],
        "places": {user_id: str(place) for place, user_id in enumerate(row.members, start=1)},
    }


async def _rotation_page(
    request: Request,
    caller: Caller,
    scene_key: str,
    role_key: str,
    rotation_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            scene = await assignment_shifts.get_scene(session=session, caller=caller, key=scene_key)
            rows = await assignment_shifts.list_rotations(
                session=session, caller=caller, scene_key=scene_key, role_key=role_key
            )
        except NotFound:
            return missing_shift(request, caller)
    row = next((item for item in rows if item.id == rotation_id), None)
    if row is None:
        return missing_shift(request, caller)
    role = next(item for item in scene.roles if item.key == role_key)
    staff = await _staff(request)
    active = {user_id for user_id, _name in staff}
    return render_admin(
        request,
        "admin/shift_rotation.html",
        {
            "scene": scene,
            "role": role,
            "rotation": row,
            "staff": staff,
            "weekdays": WEEKDAYS,
            # Not offered on the form (no longer active staff): saving leaves them out.
            "departed": [user_id for user_id in row.members if user_id not in active],
        },
        caller=caller,
        errors=errors,
        values=values or _rotation_values(row),
    )


@router.get("/admin/shifts/{scene}/{role}/rotations/{rotation_id}")
async def rotation_page(request: Request, scene: str, role: str, rotation_id: int) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _rotation_page(request, caller, scene, role, rotation_id)


@router.post("/admin/shifts/{scene}/{role}/rotations/{rotation_id}")
async def update_rotation(request: Request, scene: str, role: str, rotation_id: int) -> Response:
    form = await request.form()
    values, fields, members_error = _rotation_form(form)
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            if members_error:
                raise FormInvalid({"members": members_error})
            # Every input is sent: a blank last day or window clears it, as in the API.
            data = validated(RotationUpdate, fields)
            departed = await _departed(session, caller, scene, role, rotation_id)
            row = await assignment_shifts.update_rotation(
                session=session,
                caller=caller,
                scene_key=scene,
                role_key=role,
                rotation_id=rotation_id,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound as exc:
            if exc.field in {"assignee_scene", "assignee_role", "rotation_id"}:
                return missing_shift(request, caller)
            errors = errors_of(exc)
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            url = f"/admin/shifts/{scene}/{role}"
            left_out = [user_id for user_id in departed if user_id not in row.members]
            if not left_out:
                return done(request, f"Rotation {row.name} saved.", url)
            names = await _user_names(session, left_out)
            who = ", ".join(names[user_id] for user_id in left_out)
            message = f"Rotation {row.name} saved; left out, no longer active staff: {who}."
            return done(request, message, url, kind="warning")
    return await _rotation_page(
        request, caller, scene, role, rotation_id, errors=errors, values=values
    )


@router.post("/admin/shifts/{scene}/{role}/rotations/{rotation_id}/delete")
async def delete_rotation(request: Request, scene: str, role: str, rotation_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await assignment_shifts.delete_rotation(
                session=session,
                caller=caller,
                scene_key=scene,
                role_key=role,
                rotation_id=rotation_id,
            )
        except NotFound:
            return missing_shift(request, caller)
    return done(request, "Rotation deleted.", f"/admin/shifts/{scene}/{role}")


@router.post("/admin/shifts/{scene}/{role}/overrides")
async def add_override(request: Request, scene: str, role: str) -> Response:
    form = await request.form()
    values = {name: _text(form, name) for name in ("user_id", "starts_at", "ends_at", "reason")}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(
                OverrideCreate,
                {
                    "user_id": values["user_id"],
                    "starts_at": _fault_time(values["starts_at"], "starts_at"),
                    "ends_at": _fault_time(values["ends_at"], "ends_at"),
                    "reason": values["reason"],
                },
            )
            await assignment_shifts.add_override(
                session=session,
                caller=caller,
                scene_key=scene,
                role_key=role,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound as exc:
            if exc.field in {"assignee_scene", "assignee_role"}:
                return missing_shift(request, caller)
            errors = errors_of(exc)
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, "Override added.", f"/admin/shifts/{scene}/{role}")
    return await _role_page(request, caller, scene, role, errors=errors, values=values)


@router.post("/admin/shifts/{scene}/{role}/overrides/{override_id}/delete")
async def delete_override(request: Request, scene: str, role: str, override_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await assignment_shifts.delete_override(
                session=session,
                caller=caller,
                scene_key=scene,
                role_key=role,
                override_id=override_id,
            )
        except NotFound:
            return missing_shift(request, caller)
    return done(request, "Override removed.", f"/admin/shifts/{scene}/{role}")
