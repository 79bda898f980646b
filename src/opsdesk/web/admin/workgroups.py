"""Workgroup admin pages: create, edit, members in round-robin order, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.rules import STRATEGIES_FOR, Strategy, TargetType
from opsdesk.assignment.schemas import WorkgroupCreate, WorkgroupUpdate
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
from opsdesk.web.common import _clock, _db, _error_page, _text

router = APIRouter(include_in_schema=False)

STRATEGY_LABELS = {
    Strategy.ROUND_ROBIN: "Round robin (members take turns)",
    Strategy.LEAST_LOADED: "Least loaded (fewest open incidents)",
    Strategy.QUEUE: "Queue (members pick from the group queue)",
}
STRATEGY_OPTIONS = [
    (strategy.value, STRATEGY_LABELS[strategy]) for strategy in STRATEGIES_FOR[TargetType.WORKGROUP]
]


def words(raw: str) -> list[str]:
    """A comma-separated list as typed ("network, vpn") → ["network", "vpn"]."""
    return [word.strip() for word in raw.split(",") if word.strip()]


def whole_number(raw: str) -> str | None:
    """Blank means none; anything else is handed to the schema, which names a bad value."""
    return raw.strip() or None


def _group_values(form: FormData) -> dict[str, Any]:
    return {
        "name": _text(form, "name"),
        "description": _text(form, "description"),
        "skills": _text(form, "skills"),
        "strategy": _text(form, "strategy"),
        "max_open_per_member": _text(form, "max_open_per_member"),
        "does_work_orders": _text(form, "does_work_orders") == "on",
    }


def _group_data(values: dict[str, Any]) -> dict[str, Any]:
    return {
        **values,
        "skills": words(values["skills"]),
        "max_open_per_member": whole_number(values["max_open_per_member"]),
    }


async def _staff_options(request: Request) -> list[tuple[str, str]]:
    async with _db(request).read() as session:
        staff = await auth_service.active_staff(session=session)
    return [(user.id, f"{user.name} ({user.email})") for user in staff]


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such workgroup."
    )


async def _list_page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        groups = await assignment_workgroups.list_workgroups(session=session, caller=caller)
        names = await auth_service.display_names(
            session=session, user_ids={uid for group in groups for uid in group.members}
        )
    return render_admin(
        request,
        "admin/workgroups.html",
        {
            "groups": groups,
            "names": names,
            "strategy_options": STRATEGY_OPTIONS,
            "strategy_labels": {key.value: label for key, label in STRATEGY_LABELS.items()},
            "staff_options": await _staff_options(request),
        },
        caller=caller,
        errors=errors,
        values=values or {"strategy": Strategy.ROUND_ROBIN.value, "members": []},
    )


@router.get("/admin/workgroups")
async def workgroups_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _list_page(request, caller)


@router.post("/admin/workgroups")
async def create_workgroup(request: Request) -> Response:
    form = await request.form()
    values = {
        "key": _text(form, "key"),
        **_group_values(form),
        "members": [value for value in form.getlist("members") if isinstance(value, str)],
    }
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(WorkgroupCreate, _group_data(values))
            group = await assignment_workgroups.create_workgroup(
                session=session, caller=caller, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(
                request, f"Workgroup {group.name} created.", f"/admin/workgroups/{group.key}"
            )
    return await _list_page(request, caller, errors=errors, values=values)


async def _group_page(
    request: Request,
    caller: Caller,
    key: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            group = await assignment_workgroups.get_workgroup(
                session=session, caller=caller, key=key
            )
        except NotFound:
            return _missing(request, caller)
        names = await auth_service.display_names(session=session, user_ids=group.members)
    return render_admin(
        request,
        "admin/workgroup.html",
        {
            "group": group,
            "names": names,
            "strategy_options": STRATEGY_OPTIONS,
            "staff_options": await _staff_options(request),
        },
        caller=caller,
        errors=errors,
        values=values
        or {
            "name": group.name,
            "description": group.description,
            "skills": ", ".join(group.skills),
            "strategy": group.strategy,
            "max_open_per_member": group.max_open_per_member or "",
            "enabled": group.enabled,
            "does_work_orders": group.does_work_orders,
            "members": group.members,
        },
    )


@router.get("/admin/workgroups/{key}")
async def workgroup_page(request: Request, key: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _group_page(request, caller, key)


@router.post("/admin/workgroups/{key}")
async def update_workgroup(request: Request, key: str) -> Response:
    form = await request.form()
    values = {**_group_values(form), "enabled": _text(form, "enabled") == "on"}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(WorkgroupUpdate, _group_data(values))
            await assignment_workgroups.update_workgroup(
                session=session, caller=caller, key=key, data=data, now=_clock(request).now()
            )
        except NotFound:
            return _missing(request, caller)
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, "Workgroup saved.", f"/admin/workgroups/{key}")
    return await _group_page(request, caller, key, errors=errors, values=values)


@router.post("/admin/workgroups/{key}/members")
async def set_members(request: Request, key: str) -> Response:
    form = await request.form()
    # Each person's place in the round-robin order is a number; blank leaves them out.
    places: list[tuple[int, str]] = []
    errors: dict[str, str] = {}
    for name, value in form.multi_items():
        if not name.startswith("place-") or not isinstance(value, str) or not value.strip():
            continue
        try:
            places.append((int(value), name.removeprefix("place-")))
        except ValueError:
            errors["members"] = "Give each member's place as a whole number."
    members = [user_id for _place, user_id in sorted(places)]
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        if not errors:
            try:
                await assignment_workgroups.set_members(
                    session=session,
                    caller=caller,
                    key=key,
                    members=members,
                    now=_clock(request).now(),
                )
            except NotFound as exc:
                if exc.field == "workgroup":
                    return _missing(request, caller)
                errors = errors_of(exc, {"members": "members"})
            except OpsdeskError as exc:
                errors = errors_of(exc, {"members": "members"})
            else:
                return done(request, f"Members saved ({len(members)}).", f"/admin/workgroups/{key}")
    return await _group_page(request, caller, key, errors=errors)


@router.post("/admin/workgroups/{key}/delete")
async def delete_workgroup(request: Request, key: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await assignment_workgroups.delete_workgroup(session=session, caller=caller, key=key)
        except NotFound:
            return _missing(request, caller)
        except OpsdeskError as exc:
            return done(
                request,
                f"Not deleted: {errors_of(exc)['workgroup']}",
                f"/admin/workgroups/{key}",
                kind="error",
            )
    return done(request, f"Workgroup {key} deleted.", "/admin/workgroups")
