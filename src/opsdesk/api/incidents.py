"""Native incident routes under ``/api/v1/incidents``: translation only, rules live in services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.core.clock import epoch_ms
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents import service
from opsdesk.incidents.actions import phase_of_incident
from opsdesk.incidents.fields import LEVEL_LABELS, Label, history_action_label
from opsdesk.incidents.lifecycle import PHASE_LABELS, status_label
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.queries import parse_list_params
from opsdesk.incidents.schemas import (
    EnumDataOut,
    FieldChangeOut,
    HistoryOut,
    IncidentCreate,
    IncidentOut,
    IncidentPage,
    IncidentUpdate,
)
from opsdesk.incidents.service import EnumNames

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


_COMPUTED = frozenset({"level_label", "status_label", "phase", "phase_label"})


def incident_out(incident: Incident) -> IncidentOut:
    level = LEVEL_LABELS.get(incident.level, Label(incident.level, incident.level))
    phase = phase_of_incident(incident)
    values = {
        name: getattr(incident, name) for name in IncidentOut.model_fields if name not in _COMPUTED
    }
    return IncidentOut(
        **values,
        level_label=level.en,
        status_label=status_label(phase),
        phase=phase.value,
        phase_label=PHASE_LABELS[phase].en,
    )


def history_out(row: IncidentHistory, names: EnumNames) -> HistoryOut:
    label = history_action_label(row.action)
    return HistoryOut(
        id=row.id,
        action=row.action,
        action_name_en=label.en,
        action_name_zh=label.zh,
        operator_id=row.operator_id,
        status=row.status,
        start_time=row.start_time,
        stop_time=row.stop_time,
        start_time_ms=epoch_ms(row.start_time),
        stop_time_ms=None if row.stop_time is None else epoch_ms(row.stop_time),
        comment=row.comment,
        internal=row.internal,
        changes=[FieldChangeOut.model_validate(change) for change in row.changes],
        enum_data_list=[
            EnumDataOut(prop_id=field, biz_id=key, name_en=label.en, name_zh=label.zh)
            for field, key, label in names.enum_data(row.changes)
        ],
    )


def incident_etag(incident: Incident) -> str:
    return f'"{incident.version}"'


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise ValidationFailed(
            'If-Match: give the ETag of the incident, e.g. "3"', field="If-Match"
        )
    return int(raw)


@router.post("", status_code=201, response_model=IncidentOut)
async def create_incident(
    body: IncidentCreate,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    response: Response,
) -> IncidentOut:
    async with db.write() as session:
        incident = await service.create_incident(
            session=session, caller=caller, data=body, now=clock.now(), rules=rules
        )
    response.headers["Location"] = f"/api/v1/incidents/{incident.number}"
    response.headers["ETag"] = incident_etag(incident)
    return incident_out(incident)


@router.get("", response_model=IncidentPage)
async def list_incidents(request: Request, caller: CurrentCaller, db: DB) -> IncidentPage:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    spec = parse_list_params(params)
    async with db.read() as session:
        page = await service.list_incidents(session=session, caller=caller, spec=spec)
    return IncidentPage(
        items=[incident_out(item) for item in page.items],
        total=page.total,
        page=page.page,
        per_page=page.per_page,
    )


@router.get("/{number}", response_model=IncidentOut)
async def get_incident(
    number: str, caller: CurrentCaller, db: DB, response: Response
) -> IncidentOut:
    async with db.read() as session:
        incident = await service.access_incident(session=session, caller=caller, number=number)
    response.headers["ETag"] = incident_etag(incident)
    return incident_out(incident)


@router.patch("/{number}", response_model=IncidentOut)
async def update_incident(
    number: str,
    body: IncidentUpdate,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> IncidentOut:
    async with db.write() as session:
        incident = await service.update_incident(
            session=session,
            caller=caller,
            number=number,
            data=body,
            now=clock.now(),
            rules=rules,
            expected_version=expected_version(if_match),
        )
    response.headers["ETag"] = incident_etag(incident)
    return incident_out(incident)


@router.get("/{number}/history", response_model=list[HistoryOut])
async def incident_history(number: str, caller: CurrentCaller, db: DB) -> list[HistoryOut]:
    async with db.read() as session:
        rows = await service.list_history(session=session, caller=caller, number=number)
        names = await service.enum_names(session=session, rows=rows)
    return [history_out(row, names) for row in rows]
