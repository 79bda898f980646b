"""Technician admin pages: skills, capacity, availability and absences of each staff member."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.assignment import technicians as assignment_technicians
from opsdesk.assignment.schemas import AbsenceCreate, TechnicianUpdate
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
from opsdesk.web.admin.workgroups import whole_number, words
from opsdesk.web.common import _clock, _db, _error_page, _fault_time, _format_time, _text

router = APIRouter(include_in_schema=False)


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request,
        caller=caller,
        status_code=404,
        title="Not found",
        message="No such active technician.",
    )


@router.get("/admin/technicians")
async def technicians_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        people = await assignment_technicians.list_technicians(
            session=session, caller=caller, now=_clock(request).now()
        )
    return render_admin(request, "admin/technicians.html", {"people": people}, caller=caller)


async def _person_page(
    request: Request,
    caller: Caller,
    user_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    now = _clock(request).now()
    async with _db(request).read() as session:
        try:
            person = await assignment_technicians.get_technician(
                session=session, caller=caller, user_id=user_id, now=now
            )
        except NotFound:
            return _missing(request, caller)
        absences = await assignment_technicians.list_absences(
            session=session, caller=caller, user_id=user_id, now=now
        )
    return render_admin(
        request,
        "admin/technician.html",
        {
            "person": person,
            "absences": [
                {
                    "id": row.id,
                    "starts": _format_time(row.starts_at),
                    "ends": _format_time(row.ends_at),
                    "reason": row.reason,
                }
                for row in absences
            ],
        },
        caller=caller,
        errors=errors,
        values=values
        or {
            "skills": ", ".join(person.skills),
            "max_open": person.max_open or "",
            "available": person.available,
        },
    )


@router.get("/admin/technicians/{user_id}")
async def technician_page(request: Request, user_id: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _person_page(request, caller, user_id)


@router.post("/admin/technicians/{user_id}")
async def update_technician(request: Request, user_id: str) -> Response:
    form = await request.form()
    skills, max_open = _text(form, "skills"), _text(form, "max_open")
    values: dict[str, Any] = {
        "skills": skills,
        "max_open": max_open,
        "available": _text(form, "available") == "on",
    }
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(
                TechnicianUpdate,
                {
                    **values,
                    "skills": words(skills),
                    "max_open": whole_number(max_open),
                },
            )
            await assignment_technicians.update_technician(
                session=session,
                caller=caller,
                user_id=user_id,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            if exc.field == "user_id":
                return _missing(request, caller)
            errors = errors_of(exc)
        else:
            return done(request, "Technician saved.", f"/admin/technicians/{user_id}")
    return await _person_page(request, caller, user_id, errors=errors, values=values)


@router.post("/admin/technicians/{user_id}/absences")
async def add_absence(request: Request, user_id: str) -> Response:
    form = await request.form()
    values = {name: _text(form, name) for name in ("starts_at", "ends_at", "reason")}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            data = validated(
                AbsenceCreate,
                {
                    "starts_at": _fault_time(values["starts_at"], "starts_at"),
                    "ends_at": _fault_time(values["ends_at"], "ends_at"),
                    "reason": values["reason"],
                },
            )
            await assignment_technicians.add_absence(
                session=session,
                caller=caller,
                user_id=user_id,
                data=data,
                now=_clock(request).now(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, "Absence added.", f"/admin/technicians/{user_id}")
    return await _person_page(request, caller, user_id, errors=errors)


@router.post("/admin/technicians/{user_id}/absences/{absence_id}/delete")
async def delete_absence(request: Request, user_id: str, absence_id: int) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await assignment_technicians.delete_absence(
                session=session, caller=caller, user_id=user_id, absence_id=absence_id
            )
        except NotFound:
            return _missing(request, caller)
    return done(request, "Absence removed.", f"/admin/technicians/{user_id}")
