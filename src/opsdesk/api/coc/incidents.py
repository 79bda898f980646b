"""COC incident routes: detail (v1), list (v2) and create (v1), in COC's names and envelope.

Translation only: the same services as the native API answer, with the same rules.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError as PydanticValidationError

from opsdesk.api.coc.bodies import (
    CREATE_BODY,
    LIST_BODY,
)
from opsdesk.api.coc.envelope import envelope, envelope_response
from opsdesk.api.coc.fields import (
    TICKET_FIELDS,
    TICKET_KEY,
    projected,
)
from opsdesk.api.coc.keys import (
    doc_ids,
)
from opsdesk.api.coc.requests import (
    IncidentNum,
    bool_param,
    int_param,
    json_body,
    listed,
    operator_of,
    required_text,
)
from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.core.bounds import MAX_PAGE, TIME_RANGE, moment_from_ms
from opsdesk.core.clock import epoch_ms
from opsdesk.core.errors import ValidationFailed
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.incidents import access, attachments, creation
from opsdesk.incidents.actions import phase_of_incident
from opsdesk.incidents.fields import (
    Channel,
)
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.incidents.search import (
    parse_search,
    search_incidents,
)
from opsdesk.reviews import war_rooms

router = APIRouter(tags=["COC-compatible"])

# Request keys of ListIncidents that are not part of the filter language.
LIST_ONLY_KEYS = frozenset(
    {"page", "per_page", "contain_all", "contain_total", "contain_sub_ticket", "ticket_types"}
)


def _ms(value: Any) -> int | None:
    return None if value is None else epoch_ms(value)


def _text_ms(value: Any) -> str | None:
    return None if value is None else str(epoch_ms(value))


def detail_of(incident: Incident, warroom_id: str | None = None) -> dict[str, Any]:
    """``ShowCocIncidentDetail``'s ``data`` (SDK ``IncidentTicketInfoResponseData``)."""
    return {
        "incident_num": incident.number,
        "region": listed(incident.region),
        "enterprise_project": listed(incident.enterprise_project),
        "current_cloud_service": listed(incident.application),
        "incident_level": incident.level,
        "is_service_interrupt": incident.service_interrupted,
        "start_time": _ms(incident.fault_occurred_at),
        "fault_recovery_time": _ms(incident.fault_recovery_at),
        "fault_delineation_time": None,
        "incident_ownership": incident.ownership,
        "incident_type": incident.category,
        "incident_title": incident.title,
        "incident_description": incident.description,
        "incident_source": incident.source,
        "incident_assignee": listed(incident.assignee_id),
        "assignee_scene": incident.assignee_scene,
        "assignee_role": incident.assignee_role,
        "warroom_id": warroom_id,
        "handle_time": _ms(incident.resolved_at),
        "status": incident.status,
        "create_time": _ms(incident.created_at),
        "creator": incident.creator_id,
        "enum_data_list": [],
    }


def _text_id(value: int | None) -> str | None:
    return None if value is None else str(value)


def ticket_of(incident: Incident) -> dict[str, Any]:
    """One ``ListIncidents`` ticket (SDK ``CocIncidentDataV2``): every value a string."""
    return {
        "ticket_id": incident.number,
        "title": incident.title,
        "description": incident.description,
        "level_id": incident.level,
        "mtm_type": incident.category,
        "mtm_region": incident.region,
        "source_id": incident.source,
        "forward_rule_id": _text_id(incident.forward_rule_id),
        "enterprise_project_id": incident.enterprise_project,
        "current_cloud_service_id": incident.application,
        "is_service_interrupt": "true" if incident.service_interrupted else "false",
        "work_flow_status": incident.status,
        "phase": phase_of_incident(incident).value,
        "assignee": incident.assignee_id,
        "creator": incident.creator_id,
        "operator": None,
        "create_time": _text_ms(incident.created_at),
        "update_time": _text_ms(incident.updated_at),
        "start_time": _text_ms(incident.fault_occurred_at),
        "handle_time": _text_ms(incident.resolved_at),
        "incident_ownership": incident.ownership,
        "enum_data_list": [],
    }


@router.get("/v1/external/incident/{incident_num}")
async def show_incident(incident_num: IncidentNum, caller: CurrentCaller, db: DB) -> dict[str, Any]:
    async with db.read() as session:
        incident = await access.access_incident(session=session, caller=caller, number=incident_num)
        # The incident's latest war room (COC's warroom_id); staff only, as war rooms are.
        rooms = await war_rooms.rooms_of(session, incident.id) if caller.is_staff else []
    return envelope(detail_of(incident, str(rooms[0].id) if rooms else None))


@router.post("/v2/incidents/list", openapi_extra=LIST_BODY)
async def list_incidents(request: Request, caller: CurrentCaller, db: DB) -> Response:
    body = await json_body(request)
    page = int_param(body, "page", 1, 1, MAX_PAGE)
    per_page = int_param(body, "per_page", 10, 1, MAX_PER_PAGE)
    contain_total = bool_param(body, "contain_total", True)
    query = parse_search(
        {key: value for key, value in body.items() if key not in LIST_ONLY_KEYS},
        selectable=TICKET_FIELDS,
    )
    async with db.read() as session:
        result = await search_incidents(
            session=session,
            caller=caller,
            query=query,
            page=PageRequest(page, per_page),
            contain_total=contain_total,
        )
    tickets = projected([ticket_of(item) for item in result.items], query.fields, TICKET_KEY)
    data: dict[str, Any] = {"tickets": tickets}
    if contain_total:
        data["total"] = result.total
    if query.group_by is not None:
        data["group_by"] = [{"value": value, "count": n} for value, n in result.groups]
    if query.counts:
        data["counts"] = result.counts
    return envelope_response(data)


# CreateCocIncident --------------------------------------------------------------------------


def _one(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0] or None
    raise ValidationFailed(f"{name}: must be an array of at most one string", field=name)


def _interrupted(body: dict[str, Any]) -> bool:
    value = body.get("is_service_interrupt")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValidationFailed(
        "is_service_interrupt: is required, true or false", field="is_service_interrupt"
    )


_CREATE_FIELDS = {
    "incident_title": "title",
    "incident_description": "description",
    "incident_level": "level",
    "incident_type": "category",
    "incident_source": "source",
    "incident_ownership": "ownership",
    "start_time": "fault_occurred_at",
    "region": "region",
    "enterprise_project": "enterprise_project",
    "current_cloud_service": "application",
    "incident_assignee": "assignee_id",
    "assignee_scene": "assignee_scene",
    "assignee_role": "assignee_role",
}


@router.post("/v1/external/incident/create", openapi_extra=CREATE_BODY)
async def create_incident(
    request: Request, caller: CurrentCaller, db: DB, clock: ClockDep, rules: Rules
) -> dict[str, Any]:
    body = await json_body(request)
    title = required_text(body, "incident_title", 200)
    documents = doc_ids(body.get("attachments"), "attachments")
    level = required_text(body, "incident_level", 64)
    category = required_text(body, "incident_type", 64)
    source = required_text(body, "incident_source", 64)
    creator = required_text(body, "creator", 64)
    description = body.get("incident_description") or ""
    if not isinstance(description, str) or len(description) > 600:
        raise ValidationFailed(
            "incident_description: must be text of at most 600 characters",
            field="incident_description",
        )
    values: dict[str, Any] = {
        "title": title,
        "description": description,
        "level": level,
        "category": category,
        "source": source,
        "service_interrupted": _interrupted(body),
        "region": _one(body, "region"),
        "enterprise_project": _one(body, "enterprise_project"),
        "application": _one(body, "current_cloud_service"),
        "assignee_id": _one(body, "incident_assignee"),
        "assignee_scene": body.get("assignee_scene") or None,
        "assignee_role": body.get("assignee_role") or None,
        "ownership": body.get("incident_ownership") or None,
    }
    start = body.get("start_time")
    if start not in (None, ""):
        occurred = None
        if not isinstance(start, bool) and isinstance(start, int):
            occurred = moment_from_ms(start)
        if occurred is None:
            raise ValidationFailed(
                f"start_time: must be epoch milliseconds of {TIME_RANGE}", field="start_time"
            )
        values["fault_occurred_at"] = occurred
    async with db.write() as session:
        # The creator is the token's user (or, for an admin's integration token, the
        # user it names); the service decides what that user may set.
        acting = await operator_of(session, caller, creator, "creator")
        clean = {k: v for k, v in values.items() if v is not None}
        try:
            data = IncidentCreate.model_validate(clean)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            ours = ".".join(str(part) for part in first["loc"])
            theirs = next((coc for coc, native in _CREATE_FIELDS.items() if native == ours), ours)
            raise ValidationFailed(
                f"{theirs}: {first['msg'].removeprefix('Value error, ')}", field=theirs
            ) from None
        incident = await creation.create_incident(
            session=session,
            caller=acting,
            data=data,
            now=clock.now(),
            rules=rules,
            default_channel=Channel.COC_API,
        )
        await attachments.claim_uploads(
            session=session,
            caller=acting,
            number=incident.number,
            doc_ids=documents,
            now=clock.now(),
            rules=rules,
        )
    return envelope({"incident_num": incident.number})
