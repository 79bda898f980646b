"""Shift admin pages: scenes, their roles, rotations, overrides and a four-week duty calendar."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from opsdesk.assignment import rotation as rotations
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.schemas import (
    OverrideCreate,
    RoleCreate,
    RotationCreate,
    SceneCreate,
    SceneUpdate,
)
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
from opsdesk.web.common import _clock, _db, _error_page, _fault_time, _format_time, _text

router = APIRouter(include_in_schema=False)

KIND_OPTIONS = [("rotating", "Rotating (people take turns)"), ("fixed", "Fixed")]
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


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such shift."
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


async def _staff(request: Request) -> list[tuple[str, str]]:
    async with _db(request).read() as session:
        staff = await auth_service.active_staff(session=session)
    return [(user.id, user.name) for user in staff]


# Scenes ----------------------------------------------------------------------------------


async def _scenes_page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        scenes = await assignment_shifts.list_scenes(session=session, caller=caller)
    return render_admin(
        request,
        "admin/shifts.html",
        {"scenes": scenes, "kind_options": KIND_OPTIONS},
        caller=caller,
        errors=errors,
        values=values or {"time_zone": "UTC", "kind": "rotating"},
    )


@router.get("/admin/shifts")
async def shifts_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _scenes_page(request, caller)


@router.post("/admin/shifts")
async def create_scene(request: Request) -> Response:
    form = await request.form()
    values = {
        name: _text(form, name) for name in ("key", "name", "time_zone", "kind", "description")
    }
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(SceneCreate, values)
            scene = await assignment_shifts.create_scene(
                session=session, caller=caller, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, f"Shift scene {scene.name} created.", f"/admin/shifts/{scene.key}")
    return await _scenes_page(request, caller, errors=errors, values=values)


async def _scene_page(
    request: Request,
    caller: Caller,
    key: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            scene = await assignment_shifts.get_scene(session=session, caller=caller, key=key)
        except NotFound:
            return _missing(request, caller)
    return render_admin(
        request,
        "admin/shift_scene.html",
        {"scene": scene},
        caller=caller,
        errors=errors,
        values=values
        or {"name": scene.name, "time_zone": scene.time_zone, "description": scene.description},
    )


@router.get("/admin/shifts/{scene}")
async def scene_page(request: Request, scene: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _scene_page(request, caller, scene)


@router.post("/admin/shifts/{scene}")
async def update_scene(request: Request, scene: str) -> Response:
    form = await request.form()
    values = {name: _text(form, name) for name in ("name", "time_zone", "description")}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(SceneUpdate, values)
            await assignment_shifts.update_scene(
                session=session, caller=caller, key=scene, data=data, now=_clock(request).now()
            )
        except NotFound:
            return _missing(request, caller)
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, "Shift scene saved.", f"/admin/shifts/{scene}")
    return await _scene_page(request, caller, scene, errors=errors, values=values)


@router.post("/admin/shifts/{scene}/roles")
async def add_role(request: Request, scene: str) -> Response:
    form = await request.form()
    values = {"role_key": _text(form, "role_key"), "role_name": _text(form, "role_name")}
    names = {"key": "role_key", "name": "role_name"}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(
                RoleCreate, {"key": values["role_key"], "name": values["role_name"]}, names
            )
            role = await assignment_shifts.add_role(
                session=session,
                caller=caller,
                scene_key=scene,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound:
            return _missing(request, caller)
        except OpsdeskError as exc:
            errors = errors_of(exc, names)
        else:
            return done(request, f"Role {role.name} added.", f"/admin/shifts/{scene}/{role.key}")
    return await _scene_page(request, caller, scene, errors=errors)


@router.post("/admin/shifts/{scene}/{role}/delete")
async def delete_role(request: Request, scene: str, role: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await assignment_shifts.delete_role(
                session=session, caller=caller, scene_key=scene, role_key=role
            )
        except NotFound:
            return _missing(request, caller)
        except OpsdeskError as exc:
            message = f"Not deleted: {next(iter(errors_of(exc).values()))}"
            return done(request, message, f"/admin/shifts/{scene}/{role}")
    return done(request, f"Role {role} deleted.", f"/admin/shifts/{scene}")


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
            return _missing(request, caller)
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


@router.post("/admin/shifts/{scene}/{role}/rotations")
async def add_rotation(request: Request, scene: str, role: str) -> Response:
    form = await request.form()
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
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            if members_error:
                raise FormInvalid({"members": members_error})
            data = validated(
                RotationCreate,
                {
                    **{name: values[name].strip() or None for name in ROTATION_INPUTS},
                    "name": values["name"],
                    "members": members,
                    "weekdays": weekdays,
                },
            )
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
                return _missing(request, caller)
            errors = errors_of(exc)
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, f"Rotation {data.name} added.", f"/admin/shifts/{scene}/{role}")
    return await _role_page(request, caller, scene, role, errors=errors, values=values)


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
            return _missing(request, caller)
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
                return _missing(request, caller)
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
            return _missing(request, caller)
    return done(request, "Override removed.", f"/admin/shifts/{scene}/{role}")
