"""COC alarm routes: TransferAlarmToIncident, ClearAlarm, ShowAlarm, ListAlarmHandleHistories,
and the custom-event receiver (ReportCustomEvent) for integrations of kind ``coc``.

Translation only. An alarm is an alert group (COC's aggregated alarm), its id the group id.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from opsdesk.alerts import alarms, service
from opsdesk.alerts.payloads import parse_coc_event
from opsdesk.api.alerts import rate_limiter
from opsdesk.api.coc.envelope import PROVIDER_CODE, envelope
from opsdesk.api.deps import DB, ClockDep, Rules, StaffCaller
from opsdesk.auth.roles import Role
from opsdesk.auth.service import require_role
from opsdesk.core.clock import epoch_ms
from opsdesk.core.errors import NotFound, Unauthenticated, ValidationFailed
from opsdesk.incidents.fields import Source
from opsdesk.incidents.schemas import IncidentCreate

router = APIRouter(tags=["COC-compatible"])
AlarmId = Annotated[str, PathParam(min_length=1, max_length=64)]
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class AlarmToIncident(BaseModel):
    """COC's AlarmToIncidentRequestBody; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    alarm_ids: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    current_cloud_service_id: Text64
    description: Annotated[str, StringConstraints(max_length=20_000)]
    is_service_interrupt: bool
    level_id: Text64
    mtm_type: Text64
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    enterprise_project_id: Text64 | None = None
    assignee: Annotated[str, StringConstraints(max_length=32)] | None = None
    assignee_scene: Text64 | None = None
    assignee_role: Text64 | None = None
    attachment: str | None = None
    is_change_event: bool | None = None
    mtm_region: Text64 | None = None
    source_id: Text64 | None = None


class ClearAlarmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alarm_ids: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    remarks: Annotated[str, StringConstraints(max_length=100)] | None = None
    is_service_interrupt: bool | None = None
    start_time: int | None = Field(default=None, ge=0)
    fault_recovery_time: int | None = Field(default=None, ge=0)


_NATIVE = {
    "title": "title",
    "description": "description",
    "level": "level_id",
    "category": "mtm_type",
    "application": "current_cloud_service_id",
    "region": "mtm_region",
    "enterprise_project": "enterprise_project_id",
    "assignee_id": "assignee",
    "assignee_scene": "assignee_scene",
    "assignee_role": "assignee_role",
    "source": "source_id",
}


def _incident_data(body: AlarmToIncident) -> IncidentCreate:
    values = {
        "title": body.title,
        "description": body.description,
        "level": body.level_id,
        "category": body.mtm_type,
        "application": body.current_cloud_service_id,
        "region": body.mtm_region,
        "enterprise_project": body.enterprise_project_id,
        "assignee_id": body.assignee,
        "assignee_scene": body.assignee_scene,
        "assignee_role": body.assignee_role,
        "service_interrupted": body.is_service_interrupt,
        "source": body.source_id or Source.ALARM,
    }
    try:
        return IncidentCreate.model_validate({k: v for k, v in values.items() if v is not None})
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        ours = ".".join(str(part) for part in first["loc"])
        theirs = _NATIVE.get(ours, ours)
        raise ValidationFailed(
            f"{theirs}: {first['msg'].removeprefix('Value error, ')}", field=theirs
        ) from None


@router.post("/v1/alarm-mgmt/alarms-linked-incident")
async def transfer_alarm_to_incident(
    body: AlarmToIncident, caller: StaffCaller, db: DB, clock: ClockDep, rules: Rules
) -> dict[str, Any]:
    require_role(caller, Role.TECHNICIAN)
    ids = alarms.parse_alarm_ids(body.alarm_ids)
    data = _incident_data(body)
    async with db.write() as session:
        number = await alarms.transfer_to_incident(
            session=session, caller=caller, alarm_ids=ids, data=data, now=clock.now(), rules=rules
        )
    return envelope([number])


@router.post("/v1/alarm-mgmt/alarms/cancel")
async def clear_alarm(
    body: ClearAlarmBody, caller: StaffCaller, db: DB, clock: ClockDep
) -> dict[str, Any]:
    require_role(caller, Role.TECHNICIAN)
    ids = alarms.parse_alarm_ids(body.alarm_ids)
    async with db.write() as session:
        cleared = await alarms.clear(
            session=session,
            caller=caller,
            alarm_ids=ids,
            remarks=body.remarks or "",
            now=clock.now(),
        )
    return envelope(cleared)


def _alarm_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"alarm_id: no alarm {raw}", field="alarm_id")
    return int(raw)


@router.get("/v1/alarm-mgmt/alarm/{alarm_id}")
async def show_alarm(alarm_id: AlarmId, caller: StaffCaller, db: DB) -> dict[str, Any]:
    require_role(caller, Role.TECHNICIAN)
    async with db.read() as session:
        info = await alarms.alarm_info(session=session, alarm_id=_alarm_id(alarm_id))
    group, incident = info.group, info.incident
    return envelope(
        {
            "id": str(group.id),
            "name": group.title,
            "importance": alarms.IMPORTANCE[info.worst_severity],
            "come_from": info.integration.kind,
            "come_from_en": info.integration.name,
            "transfer_rule": None if group.rule_id is None else str(group.rule_id),
            "transfer_rule_name": None if info.rule is None else info.rule.name,
            "app": None if incident is None else incident.application,
            "status": "alarming" if group.closed_at is None and info.firing else "resolved",
            "owner": None if incident is None else incident.assignee_id,
            "converge_count": group.alert_count,
            "associate_event_id": None if incident is None else incident.number,
            "creator": info.integration.acting_user_id,
            "create_time": epoch_ms(group.first_seen),
            "update_time": epoch_ms(group.last_seen),
            "remarks": group.clear_remarks,
            "region": None if incident is None else incident.region,
        }
    )


@router.get("/v1/alarm-mgmt/alarm/{alarm_id}/handle-histories")
async def list_alarm_handle_histories(
    alarm_id: AlarmId,
    caller: StaffCaller,
    db: DB,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """No automation runs on alarms here, so the list is empty; a clearing is the record."""
    require_role(caller, Role.TECHNICIAN)
    async with db.read() as session:
        info = await alarms.alarm_info(session=session, alarm_id=_alarm_id(alarm_id))
    group = info.group
    resolved = None
    if group.cleared_by is not None and group.closed_at is not None:
        resolved = {
            "resolved_time": epoch_ms(group.closed_at),
            "create_name": group.cleared_by,
            "remarks": group.clear_remarks or "",
        }
    return {"count": 0, "alarm_handle_histories": [], "resolved_record": resolved}


# ReportCustomEvent: COC's integration envelope, not the GOM one.
def _integration_answer(code: str, message: str, status: int) -> Response:
    body = {"error_code": code, "error_msg": message, "data": None, "provider_code": PROVIDER_CODE}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.post("/v1/event/huawei/custom/{integration_key}")
async def report_custom_event(
    integration_key: Annotated[str, PathParam(min_length=1, max_length=64)],
    request: Request,
    db: DB,
    clock: ClockDep,
    rules: Rules,
) -> Response:
    try:
        async with db.read() as session:
            integration = await service.integration_by_key(
                session=session, key=integration_key, kind="coc"
            )
    except Unauthenticated:
        return _integration_answer("common.01010001", "Token missing or invalid.", 401)
    wait = rate_limiter(request).take(
        integration.id, per_second=integration.rate_limit_per_s, now=time.monotonic()
    )
    if wait:
        response = _integration_answer("COC.00000429", "Too many requests", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        alert = parse_coc_event(orjson.loads(await request.body()))
    except orjson.JSONDecodeError:
        return _integration_answer("COC.00000001", "body is not valid JSON", 400)
    except ValidationFailed as exc:
        return _integration_answer("COC.00000001", exc.message, 400)
    async with db.write() as session:
        await service.ingest(
            session=session, integration=integration, alerts=[alert], now=clock.now(), rules=rules
        )
    return _integration_answer("COC.00000000", "success", 200)
