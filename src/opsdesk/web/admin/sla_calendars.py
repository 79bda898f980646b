"""SLA calendar admin pages: working hours, holidays (typed, imported for a country or from an
iCalendar file), 24x7."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla.models import SlaCalendarRow
from opsdesk.sla.schemas import CalendarIn
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.admin.sla import missing_sla, render_sla_page
from opsdesk.web.admin.workgroups import words
from opsdesk.web.common import _clock, _db, _text

router = APIRouter(include_in_schema=False)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ICAL_MAX_BYTES = 2 * 1024 * 1024
CALENDAR_INPUTS = {"hours": "hours", "holidays": "holidays", "file": "file"}


def _hours_text(row: SlaCalendarRow) -> str:
    return "\n".join(f"{DAYS[span['weekday']]} {span['start']}-{span['end']}" for span in row.hours)


def _holidays_text(row: SlaCalendarRow) -> str:
    return "\n".join(f"{day} {name}" for day, name in sorted((row.holidays or {}).items()))


def _parse_hours(text: str) -> list[dict[str, Any]]:
    """ "Mon 09:00-18:00" per line → the API's spans; a line that reads otherwise is refused."""
    spans = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        day, _, times = line.strip().partition(" ")
        start, _, end = times.strip().partition("-")
        if day[:3].title() not in DAYS or not start or not end:
            raise FormInvalid({"hours": f"Line {number}: write it as “Mon 09:00-18:00”."})
        spans.append(
            {"weekday": DAYS.index(day[:3].title()), "start": start.strip(), "end": end.strip()}
        )
    return spans


def _parse_holidays(text: str) -> dict[str, str]:
    days = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        day, _, name = line.strip().partition(" ")
        if not day:
            raise FormInvalid({"holidays": f"Line {number}: write it as “2026-12-25 Christmas”."})
        days[day] = name.strip() or "Holiday"
    return days


# Calendars --------------------------------------------------------------------------------


def _calendar_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: _text(form, name) for name in ("key", "name", "time_zone", "hours", "holidays")
    }
    values["always_open"] = _text(form, "always_open") == "on"
    return values


async def _calendar_page(
    request: Request,
    caller: Caller,
    key: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            row = await sla_configuration.get_calendar(session=session, caller=caller, key=key)
        except NotFound:
            return missing_sla(request, caller)
    return render_admin(
        request,
        "admin/sla_calendar.html",
        {"calendar": row, "holiday_count": len(row.holidays or {})},
        caller=caller,
        errors=errors,
        values=values
        or {
            "name": row.name,
            "time_zone": row.time_zone,
            "always_open": row.always_open,
            "hours": _hours_text(row),
            "holidays": _holidays_text(row),
        },
    )


async def _save_calendar(request: Request, key: str, *, creating: bool) -> Response:
    form = await request.form()
    values = _calendar_values(form)
    key = values["key"].strip() if creating else key
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            try:
                await sla_configuration.get_calendar(session=session, caller=caller, key=key)
                if creating:
                    raise ValidationFailed(f"key: a calendar {key} already exists", field="key")
            except NotFound:
                if not creating:
                    return missing_sla(request, caller)
            data = validated(
                CalendarIn,
                {
                    "name": values["name"],
                    "time_zone": values["time_zone"].strip() or "UTC",
                    "hours": _parse_hours(values["hours"]),
                    "holidays": _parse_holidays(values["holidays"]),
                    "always_open": values["always_open"],
                },
                CALENDAR_INPUTS,
            )
            await sla_configuration.put_calendar(
                session=session, caller=caller, key=key, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc, CALENDAR_INPUTS)
        else:
            return done(request, f"SLA calendar {key} saved.", f"/admin/sla/calendars/{key}")
    if creating:
        values = {**values, "form": "calendar"}
        return await render_sla_page(request, caller, errors=errors, values=values)
    return await _calendar_page(request, caller, key, errors=errors, values=values)


@router.post("/admin/sla/calendars")
async def create_calendar(request: Request) -> Response:
    return await _save_calendar(request, "", creating=True)


@router.get("/admin/sla/calendars/{key}")
async def calendar_page(request: Request, key: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _calendar_page(request, caller, key)


@router.post("/admin/sla/calendars/{key}")
async def update_calendar(request: Request, key: str) -> Response:
    return await _save_calendar(request, key, creating=False)


@router.post("/admin/sla/calendars/{key}/holidays")
async def import_holidays(request: Request, key: str) -> Response:
    """A country's public holidays for some years, or the all-day events of an iCal file."""
    async with request.form() as form:  # closes the spooled upload file
        upload = form.get("file")
        ical = None
        if isinstance(upload, UploadFile) and (upload.filename or upload.size):
            ical = await upload.read(ICAL_MAX_BYTES + 1)
        country = _text(form, "country").strip()
        years_text = _text(form, "years")
        subdivision = _text(form, "subdivision").strip() or None
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            if ical is not None and len(ical) > ICAL_MAX_BYTES:
                raise ValidationFailed(
                    f"file: larger than {ICAL_MAX_BYTES // 1024} KiB", field="file"
                )
            years = []
            for word in words(years_text.replace(" ", ",")):
                if not word.isdigit():
                    raise ValidationFailed(f"years: {word!r} is not a year", field="years")
                years.append(int(word))
            if ical is None and country and not years:
                raise ValidationFailed("years: name at least one year, e.g. 2026", field="years")
            _row, added = await sla_configuration.import_holidays(
                session=session,
                caller=caller,
                key=key,
                now=_clock(request).now(),
                country=country or None,
                years=years,
                subdivision=subdivision,
                ical=ical,
            )
        except NotFound:
            return missing_sla(request, caller)
        except OpsdeskError as exc:
            errors = errors_of(exc, {"key": "country"})
        else:
            return done(request, f"{added} holiday(s) added.", f"/admin/sla/calendars/{key}")
    return await _calendar_page(request, caller, key, errors=errors)


@router.post("/admin/sla/calendars/{key}/delete")
async def delete_calendar(request: Request, key: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await sla_configuration.delete_calendar(session=session, caller=caller, key=key)
        except NotFound:
            return missing_sla(request, caller)
        except OpsdeskError as exc:
            message = f"Not deleted: {errors_of(exc)['key']}"
            return done(request, message, f"/admin/sla/calendars/{key}", kind="error")
    return done(request, f"SLA calendar {key} deleted.", "/admin/sla")
