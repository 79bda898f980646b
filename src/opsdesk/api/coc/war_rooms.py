"""COC war-room routes: CreateWarRoom (``POST /v1/external/warrooms``) and ListWarRooms
(``POST /v1/external/warrooms/list``), in COC's field names and envelope.

Translation only. ``schedule_group`` [{scene_id, role_id}] names shifts whose people on
duty join as technical leads, ``participant`` users join as technical leads, and
``war_room_admin`` is the incident manager. ``data`` of CreateWarRoom is the war room id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.api.coc.envelope import envelope
from opsdesk.api.deps import DB, ClockDep, StaffCaller
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents import access
from opsdesk.incidents.fields import parse_level
from opsdesk.reviews import major_service as major
from opsdesk.reviews import major_team, war_rooms
from opsdesk.reviews.war_room_states import MoveRefused, parse_status

router = APIRouter(tags=["COC-compatible"])
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TextList = Annotated[list[Text200], Field(max_length=100)]


class ScheduleGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_id: Text64
    scene_id: Text64


class CreateWarRoomBody(BaseModel):
    """COC's CreateWarRoomRequestBody; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    war_room_name: Text200
    application_id_list: TextList
    incident_number: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    schedule_group: Annotated[list[ScheduleGroup], Field(max_length=20)]
    war_room_admin: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    enterprise_project_id: Text64
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    region_code_list: TextList | None = None
    participant: (
        Annotated[list[Annotated[str, StringConstraints(max_length=32)]], Field(max_length=50)]
        | None
    ) = None
    application_names: TextList | None = None
    region_names: TextList | None = None
    notification_type: Literal["WECHAT", "DING_TALK", "LARK", "NULL_GROUP"] | None = None
    notification_modes: (
        Annotated[list[Literal["1", "2", "3", "4", "5"]], Field(max_length=5)] | None
    ) = None


class ListWarRoomsBody(BaseModel):
    """COC's ListTenantWarRoomRequestBody."""

    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(default=None, ge=1, le=1000)
    offset: int | None = Field(default=None, ge=0, le=1000)
    current_users: TextList | None = None
    war_room_nums: TextList | None = None
    incident_num: Text200 | None = None
    title: Text200 | None = None
    region_code_list: TextList | None = None
    incident_levels: TextList | None = None
    impacted_application_ids: TextList | None = None
    admin: TextList | None = None
    status: TextList | None = None
    triggered_start_time: int | None = Field(default=None, ge=0)
    triggered_end_time: int | None = Field(default=None, ge=0)
    occur_start_time: int | None = Field(default=None, ge=0)
    occur_end_time: int | None = Field(default=None, ge=0)
    recover_start_time: int | None = Field(default=None, ge=0)
    recover_end_time: int | None = Field(default=None, ge=0)
    notification_level: TextList | None = None
    enterprise_project_ids: TextList | None = None
    war_room_num: Text200 | None = None
    statistic_flag: bool | None = None


def _named(codes: list[str] | None, names: list[str] | None) -> list[dict[str, Any]] | None:
    if codes is None:
        return None
    return [
        {"code": code, "name": names[i] if names and i < len(names) else code}
        for i, code in enumerate(codes)
    ]


@router.post("/v1/external/warrooms")
async def create_war_room(
    body: CreateWarRoomBody, caller: StaffCaller, db: DB, clock: ClockDep, request: Request
) -> dict[str, Any]:
    settings = request.app.state.settings
    regions = _named(body.region_code_list, body.region_names)
    apps = _named(body.application_id_list, body.application_names)
    applications = None if apps is None else [{"id": a["code"], "name": a["name"]} for a in apps]
    team = major_team.TeamRequest(
        manager_id=body.war_room_admin,
        technical_leads=[p for p in body.participant or [] if p],
        technical_shifts=[major_team.Shift(g.scene_id, g.role_id) for g in body.schedule_group],
    )
    async with db.write() as session:
        major_team.require_staff(caller)
        incident = await access.access_incident(
            session=session, caller=caller, number=body.incident_number, for_update=True
        )
        try:
            ref = await major.start_war_room(
                session,
                caller=caller,
                incident=incident,
                now=clock.now(),
                settings=settings,
                title=body.war_room_name,
                description=body.description or "",
                team=team,
                regions=regions,
                applications=applications,
                enterprise_project=body.enterprise_project_id,
                schedule_groups=[g.model_dump() for g in body.schedule_group],
                notification_type=body.notification_type,
            )
        except ValidationFailed as exc:
            raise _coc_field(exc) from None
    return envelope(str(ref.id))


_COC_FIELDS = {
    "manager_id": "war_room_admin",
    "technical_leads": "participant",
    "technical_shifts": "schedule_group",
}


def _coc_field(exc: ValidationFailed) -> ValidationFailed:
    """Our field names in an error → COC's (``technical_shifts.0`` → ``schedule_group.0``)."""
    message = exc.message
    for ours, theirs in _COC_FIELDS.items():
        message = message.replace(ours, theirs)
    field = exc.field or ""
    for ours, theirs in _COC_FIELDS.items():
        field = field.replace(ours, theirs)
    return ValidationFailed(message, field=field or None)


def _ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


@router.post("/v1/external/warrooms/list")
async def list_war_rooms(
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
    body: ListWarRoomsBody | None = None,
) -> dict[str, Any]:
    body = body or ListWarRoomsBody()
    now = clock.now()
    statuses = []
    for index, raw in enumerate(body.status or []):
        try:
            statuses.append(parse_status(raw, field=f"status.{index}").value)
        except MoveRefused as exc:
            raise ValidationFailed(exc.message, field="status") from None
    levels = []
    for index, raw in enumerate([*(body.incident_levels or []), *(body.notification_level or [])]):
        key = parse_level(raw)
        if key is None:
            raise ValidationFailed(
                f"incident_levels.{index}: unknown level {raw!r}", field="incident_levels"
            )
        levels.append(key)
    numbers = list(body.war_room_nums or []) or ([body.war_room_num] if body.war_room_num else [])
    filters = war_rooms.RoomFilter(
        numbers=numbers,
        incident_number=body.incident_num,
        title=body.title,
        statuses=statuses,
        admins=list(body.admin or []),
        levels=levels,
        regions=list(body.region_code_list or []),
        applications=list(body.impacted_application_ids or []),
        members=list(body.current_users or []),
        enterprise_projects=list(body.enterprise_project_ids or []),
        created_from=_ms(body.triggered_start_time) or now - timedelta(days=30),
        created_to=_ms(body.triggered_end_time) or now,
    )
    settings = request.app.state.settings
    async with db.read() as session:
        found = await war_rooms.list_rooms(
            session,
            caller=caller,
            filters=filters,
            offset=body.offset or 0,
            limit=body.limit or 10,
            counts_only=bool(body.statistic_flag),
        )
        rooms = [
            await war_rooms.coc_info(
                session, room, incident, public_url=settings.public_url, now=now
            )
            for room, incident in found.rows
        ]
    data: dict[str, Any] = {
        "total_num": found.total,
        "running_num": found.running,
        "closed_num": found.closed,
    }
    if not body.statistic_flag:
        data["list"] = rooms
    return envelope(data)
