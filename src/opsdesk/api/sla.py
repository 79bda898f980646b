"""Admin routes for SLA calendars and policies under ``/api/v1/admin/sla`` (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError

from opsdesk.api.deps import ADMIN_ONLY, DB, ClockDep, CurrentCaller
from opsdesk.core.errors import ValidationFailed
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla.models import SlaCalendarRow, SlaPolicyRow
from opsdesk.sla.schemas import (
    CalendarIn,
    CalendarOut,
    HolidayImport,
    PolicyIn,
    PolicyOut,
    ReorderIn,
    SpanIn,
    ThresholdIn,
)

router = APIRouter(prefix="/api/v1/admin/sla", tags=["sla"], dependencies=[ADMIN_ONLY])

ICAL_MAX_BYTES = 2 * 1024 * 1024


class HolidaysImported(BaseModel):
    calendar: CalendarOut
    added: Annotated[int, Field(description="Dates that were not holidays before")]


def calendar_out(row: SlaCalendarRow) -> CalendarOut:
    return CalendarOut(
        key=row.key,
        name=row.name,
        time_zone=row.time_zone,
        hours=[SpanIn.model_validate(span) for span in row.hours],
        holidays=dict(row.holidays or {}),
        always_open=row.always_open,
        updated_at=row.updated_at,
    )


def policy_out(row: SlaPolicyRow) -> PolicyOut:
    match = row.match or {}
    return PolicyOut(
        key=row.key,
        name=row.name,
        order=row.order,
        calendar=row.calendar,
        response_s=row.response_s,
        resolution_s=row.resolution_s,
        levels=list(match.get("levels", [])),
        categories=list(match.get("categories", [])),
        applications=list(match.get("applications", [])),
        regions=list(match.get("regions", [])),
        organisations=list(match.get("organisations", [])),
        pause_phases=list(row.pause_phases),
        thresholds=[ThresholdIn.model_validate(t) for t in row.thresholds],
        active=row.active,
        updated_at=row.updated_at,
    )


@router.get("/calendars", response_model=list[CalendarOut])
async def list_calendars(caller: CurrentCaller, db: DB) -> list[CalendarOut]:
    async with db.read() as session:
        rows = await sla_configuration.list_calendars(session=session, caller=caller)
        return [calendar_out(row) for row in rows]


@router.get("/calendars/{key}", response_model=CalendarOut)
async def get_calendar(key: str, caller: CurrentCaller, db: DB) -> CalendarOut:
    async with db.read() as session:
        return calendar_out(
            await sla_configuration.get_calendar(session=session, caller=caller, key=key)
        )


@router.put("/calendars/{key}", response_model=CalendarOut)
async def put_calendar(
    key: str, body: CalendarIn, caller: CurrentCaller, db: DB, clock: ClockDep
) -> CalendarOut:
    async with db.write() as session:
        row = await sla_configuration.put_calendar(
            session=session, caller=caller, key=key, data=body, now=clock.now()
        )
        return calendar_out(row)


@router.delete("/calendars/{key}", status_code=204)
async def delete_calendar(key: str, caller: CurrentCaller, db: DB) -> Response:
    async with db.write() as session:
        await sla_configuration.delete_calendar(session=session, caller=caller, key=key)
    return Response(status_code=204)


@router.post("/calendars/{key}/holidays", response_model=HolidaysImported)
async def import_holidays(
    key: str, request: Request, caller: CurrentCaller, db: DB, clock: ClockDep
) -> HolidaysImported:
    """JSON ``{country, years, subdivision}``, or a multipart form with an iCal ``file``."""
    content_type = request.headers.get("content-type", "")
    ical: bytes | None = None
    body: HolidayImport | None = None
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:  # closes the spooled upload files
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationFailed("file: attach an iCalendar (.ics) file", field="file")
            ical = await upload.read(ICAL_MAX_BYTES + 1)
        if len(ical) > ICAL_MAX_BYTES:
            raise ValidationFailed(f"file: larger than {ICAL_MAX_BYTES // 1024} KiB", field="file")
    else:
        try:
            body = HolidayImport.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(part) for part in first["loc"]) or "body"
            raise ValidationFailed(f"{name}: {first['msg']}", field=name) from None
    async with db.write() as session:
        row, added = await sla_configuration.import_holidays(
            session=session,
            caller=caller,
            key=key,
            now=clock.now(),
            country=None if body is None else body.country,
            years=() if body is None else body.years,
            subdivision=None if body is None else body.subdivision,
            ical=ical,
        )
        return HolidaysImported(calendar=calendar_out(row), added=added)


@router.get("/policies", response_model=list[PolicyOut])
async def list_policies(caller: CurrentCaller, db: DB) -> list[PolicyOut]:
    async with db.read() as session:
        rows = await sla_configuration.list_policies(session=session, caller=caller)
        return [policy_out(row) for row in rows]


@router.get("/policies/{key}", response_model=PolicyOut)
async def get_policy(key: str, caller: CurrentCaller, db: DB) -> PolicyOut:
    async with db.read() as session:
        return policy_out(
            await sla_configuration.get_policy(session=session, caller=caller, key=key)
        )


@router.put("/policies/{key}", response_model=PolicyOut)
async def put_policy(
    key: str, body: PolicyIn, caller: CurrentCaller, db: DB, clock: ClockDep
) -> PolicyOut:
    async with db.write() as session:
        row = await sla_configuration.put_policy(
            session=session, caller=caller, key=key, data=body, now=clock.now()
        )
        return policy_out(row)


@router.delete("/policies/{key}", status_code=204)
async def delete_policy(key: str, caller: CurrentCaller, db: DB, clock: ClockDep) -> Response:
    async with db.write() as session:
        await sla_configuration.delete_policy(
            session=session, caller=caller, key=key, now=clock.now()
        )
    return Response(status_code=204)


@router.post("/policies/reorder", response_model=list[PolicyOut])
async def reorder_policies(
    body: ReorderIn, caller: CurrentCaller, db: DB, clock: ClockDep
) -> list[PolicyOut]:
    """Try the named policies first, in this order; the others keep theirs after them."""
    async with db.write() as session:
        rows = await sla_configuration.reorder_policies(
            session=session, caller=caller, keys=body.keys, now=clock.now()
        )
        return [policy_out(row) for row in rows]
