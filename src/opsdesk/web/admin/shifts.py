"""Shift admin pages: scenes and their roles (a role's rotations, overrides and duty calendar
are in shift_duty.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.schemas import RoleCreate, SceneCreate, SceneUpdate
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
from opsdesk.web.common import _clock, _db, _error_page, _text

router = APIRouter(include_in_schema=False)

KIND_OPTIONS = [("rotating", "Rotating (people take turns)"), ("fixed", "Fixed")]


def missing_shift(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such shift."
    )


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
            return missing_shift(request, caller)
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
            return missing_shift(request, caller)
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
            return missing_shift(request, caller)
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
            return missing_shift(request, caller)
        except OpsdeskError as exc:
            message = f"Not deleted: {next(iter(errors_of(exc).values()))}"
            return done(request, message, f"/admin/shifts/{scene}/{role}", kind="error")
    return done(request, f"Role {role} deleted.", f"/admin/shifts/{scene}")
