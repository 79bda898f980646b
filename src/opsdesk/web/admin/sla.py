"""SLA admin pages: policies (targets, what they match, order) and calendars (hours, holidays)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla.models import SlaCalendarRow, SlaPolicyRow
from opsdesk.sla.schemas import CalendarIn, PolicyIn
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.admin.workgroups import words
from opsdesk.web.common import _catalog_names, _clock, _db, _error_page, _text

router = APIRouter(include_in_schema=False)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MATCHES = {
    "levels": Kind.LEVEL,
    "categories": Kind.CATEGORY,
    "applications": Kind.APPLICATION,
    "regions": Kind.REGION,
}
ICAL_MAX_BYTES = 2 * 1024 * 1024
POLICY_INPUTS = {"response_s": "response_min", "resolution_s": "resolution_min"}
CALENDAR_INPUTS = {"hours": "hours", "holidays": "holidays", "file": "file"}


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such SLA item."
    )


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:g}"


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


@router.get("/admin/sla")
async def sla_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _sla_page(request, caller)


async def _sla_page(
    request: Request,
    caller: Caller,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        policies = await sla_configuration.list_policies(session=session, caller=caller)
        calendars = await sla_configuration.list_calendars(session=session, caller=caller)
    return render_admin(
        request,
        "admin/sla.html",
        {
            "policies": [
                {
                    "key": row.key,
                    "name": row.name,
                    "order": row.order,
                    "calendar": row.calendar,
                    "response": _minutes(row.response_s) or "—",
                    "resolution": _minutes(row.resolution_s) or "—",
                    "match": "; ".join(
                        f"{name}: {', '.join(found)}"
                        for name, found in (row.match or {}).items()
                        if found
                    )
                    or "every incident",
                    "active": row.active,
                }
                for row in policies
            ],
            "calendars": calendars,
            "calendar_options": [(row.key, row.name) for row in calendars],
        },
        caller=caller,
        errors=errors,
        values=values or {"time_zone": "UTC", "order": "100"},
    )


# Policies ---------------------------------------------------------------------------------


def _policy_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in (
            "key",
            "name",
            "order",
            "calendar",
            "response_min",
            "resolution_min",
            "organisations",
        )
    }
    for name in MATCHES:
        values[name] = [value for value in form.getlist(name) if isinstance(value, str)]
    values["active"] = _text(form, "active") == "on"
    return values


def _policy_data(values: dict[str, Any], existing: SlaPolicyRow | None) -> dict[str, Any]:
    def seconds(raw: str) -> float | str | None:
        raw = raw.strip()
        try:
            return float(raw) * 60 if raw else None
        except ValueError:
            return raw  # the schema names it

    data: dict[str, Any] = {
        "name": values["name"],
        "order": values["order"].strip() or "100",
        "calendar": values["calendar"],
        "response_s": seconds(values["response_min"]),
        "resolution_s": seconds(values["resolution_min"]),
        **{name: values[name] for name in MATCHES},
        "organisations": words(values["organisations"]),
        "active": values["active"],
    }
    if existing is not None:
        # Not on this form: escalation thresholds and pause phases stay as they are.
        data["pause_phases"] = list(existing.pause_phases)
        data["thresholds"] = list(existing.thresholds)
    return data


async def _policy_page(
    request: Request,
    caller: Caller,
    key: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        try:
            row = await sla_configuration.get_policy(session=session, caller=caller, key=key)
        except NotFound:
            return _missing(request, caller)
        calendars = await sla_configuration.list_calendars(session=session, caller=caller)
        catalog = await _catalog_names(session, MATCHES.values())
    match = row.match or {}
    return render_admin(
        request,
        "admin/sla_policy.html",
        {
            "policy": row,
            "thresholds": row.thresholds,
            "calendar_options": [(cal.key, cal.name) for cal in calendars],
            "options": {name: sorted(catalog[kind].items()) for name, kind in MATCHES.items()},
        },
        caller=caller,
        errors=errors,
        values=values
        or {
            "name": row.name,
            "order": str(row.order),
            "calendar": row.calendar,
            "response_min": _minutes(row.response_s),
            "resolution_min": _minutes(row.resolution_s),
            **{name: list(match.get(name, [])) for name in MATCHES},
            "organisations": ", ".join(match.get("organisations", [])),
            "active": row.active,
        },
    )


async def _save_policy(request: Request, key: str, *, creating: bool) -> Response:
    form = await request.form()
    values = _policy_values(form)
    key = values["key"].strip() if creating else key
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            existing: SlaPolicyRow | None = None
            try:
                existing = await sla_configuration.get_policy(
                    session=session, caller=caller, key=key
                )
            except NotFound:
                if not creating:
                    return _missing(request, caller)
            if creating and existing is not None:
                raise ValidationFailed(f"key: a policy {key} already exists", field="key")
            data = validated(PolicyIn, _policy_data(values, existing), POLICY_INPUTS)
            await sla_configuration.put_policy(
                session=session, caller=caller, key=key, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc, POLICY_INPUTS)
        else:
            return done(request, f"SLA policy {key} saved.", "/admin/sla")
    if creating:
        return await _sla_page(request, caller, errors=errors, values={**values, "form": "policy"})
    return await _policy_page(request, caller, key, errors=errors, values=values)


@router.post("/admin/sla/policies")
async def create_policy(request: Request) -> Response:
    return await _save_policy(request, "", creating=True)


@router.get("/admin/sla/policies/{key}")
async def policy_page(request: Request, key: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _policy_page(request, caller, key)


@router.post("/admin/sla/policies/{key}")
async def update_policy(request: Request, key: str) -> Response:
    return await _save_policy(request, key, creating=False)


@router.post("/admin/sla/policies/{key}/delete")
async def delete_policy(request: Request, key: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            await sla_configuration.delete_policy(
                session=session, caller=caller, key=key, now=_clock(request).now()
            )
        except NotFound:
            return _missing(request, caller)
    return done(request, f"SLA policy {key} deleted.", "/admin/sla")


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
            return _missing(request, caller)
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
                    return _missing(request, caller)
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
        return await _sla_page(request, caller, errors=errors, values=values)
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
            return _missing(request, caller)
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
            return _missing(request, caller)
        except OpsdeskError as exc:
            message = f"Not deleted: {errors_of(exc)['key']}"
            return done(request, message, f"/admin/sla/calendars/{key}")
    return done(request, f"SLA calendar {key} deleted.", "/admin/sla")
