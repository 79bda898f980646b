"""COC incident routes: detail (v1), list and histories (v2), in COC's names and envelope.

Translation only: the same services as the native API answer, with the same rules.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.api.attachments import file_download
from opsdesk.api.coc import tasks as coc_tasks
from opsdesk.api.coc.bodies import (
    ACTION_BODY,
    CREATE_BODY,
    HANDLE_BODY,
    HISTORIES_BODY,
    LIST_BODY,
)
from opsdesk.api.coc.envelope import envelope, envelope_response
from opsdesk.api.coc.fields import (
    HISTORY_FIELDS,
    TICKET_FIELDS,
    TICKET_KEY,
    V1_HISTORY_FIELDS,
    V1_HISTORY_KEY,
    V2_HISTORY_KEY,
    projected,
)
from opsdesk.api.coc.keys import (
    COC_NAMES,
    RESUBMIT_NAMES,
    V2_KEYS,
    action_for,
    coc_params,
    doc_ids,
    key_of,
)
from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import caller_by_id, display_names
from opsdesk.core.bounds import MAX_PAGE, TIME_RANGE, moment_from_ms
from opsdesk.core.clock import epoch_ms
from opsdesk.core.database import Database
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.core.settings import Settings
from opsdesk.incidents import attachments, service
from opsdesk.incidents.actions import (
    Actor,
    apply_action,
    available_actions,
    parse_params,
    phase_of_incident,
)
from opsdesk.incidents.fields import (
    Channel,
    HistoryAction,
    automation_step_id,
    history_row_label,
)
from opsdesk.incidents.lifecycle import PHASE_LABELS, Action, Phase
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.incidents.search import (
    parse_history_search,
    parse_search,
    search_history,
    search_incidents,
)
from opsdesk.incidents.service import EnumNames, IncidentRules, enum_names
from opsdesk.query.request import ListQuery

router = APIRouter(tags=["COC-compatible"])

# COC's limits on the ids in a path: 1-50 characters on v2, 255 on v1 (as HandleCocIncident's
# incident_num). Our doc_ids are 32 hex characters, so anything else is a malformed one.
IncidentNum = Annotated[str, PathParam(min_length=1, max_length=255)]
IncidentId = Annotated[str, PathParam(min_length=1, max_length=50)]
DocId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]


def _ms(value: Any) -> int | None:
    return None if value is None else epoch_ms(value)


def _text_ms(value: Any) -> str | None:
    return None if value is None else str(epoch_ms(value))


def _listed(value: str | None) -> list[str]:
    return [] if value is None else [value]


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object a COC request carries; anything else is a parameter error."""
    try:
        body = await request.json()
    except ValueError:
        raise ValidationFailed("body: is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationFailed("body: must be an object", field="body")
    return body


def _int_param(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(f"{name}: must be an integer from {low} to {high}", field=name)
    return value


def _bool_param(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ValidationFailed(f"{name}: must be true or false", field=name)
    return value


def detail_of(incident: Incident) -> dict[str, Any]:
    """``ShowCocIncidentDetail``'s ``data`` (SDK ``IncidentTicketInfoResponseData``)."""
    return {
        "incident_num": incident.number,
        "region": _listed(incident.region),
        "enterprise_project": _listed(incident.enterprise_project),
        "current_cloud_service": _listed(incident.application),
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
        "incident_assignee": _listed(incident.assignee_id),
        "assignee_scene": incident.assignee_scene,
        "assignee_role": incident.assignee_role,
        "warroom_id": None,
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
        incident = await service.access_incident(
            session=session, caller=caller, number=incident_num
        )
    return envelope(detail_of(incident))


@router.post("/v2/incidents/list", openapi_extra=LIST_BODY)
async def list_incidents(request: Request, caller: CurrentCaller, db: DB) -> Response:
    body = await _body(request)
    page = _int_param(body, "page", 1, 1, MAX_PAGE)
    per_page = _int_param(body, "per_page", 10, 1, MAX_PER_PAGE)
    contain_total = _bool_param(body, "contain_total", True)
    query = parse_search(
        {key: value for key, value in body.items() if key not in _LIST_ONLY_KEYS},
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


# Request keys of ListIncidents that are not part of the filter language.
_LIST_ONLY_KEYS = frozenset(
    {"page", "per_page", "contain_all", "contain_total", "contain_sub_ticket", "ticket_types"}
)


def history_info(
    rows: list[IncidentHistory], names: EnumNames, people: dict[str, str], *, with_id: bool
) -> list[dict[str, Any]]:
    """History rows as COC shows them (seed 003's response example).

    v2 (CocTicketHistoryBaseInfoV2) has no row id, v1 (TicketHistoryInfo) has one. As in
    COC: an automation step is keyed by its ``action_id`` and has no operator; the create
    row names its creator only in ``enum_data_list`` (the ticket's ``creator`` has it too);
    ``stop_time`` is shown for rows that span time (create, timed steps), not for instant
    actions.
    """
    info = []
    for row in rows:
        label = history_row_label(row.action, row.changes)
        step_id = automation_step_id(row.changes)
        item: dict[str, Any] = {"id": str(row.id)} if with_id else {}
        if step_id is not None:
            item["action_id"] = step_id
        else:
            item["action"] = row.action
            if row.action != HistoryAction.CREATE:
                item["operator"] = row.operator_id
        item.update(
            {
                "start_time": epoch_ms(row.start_time),
                "action_name_zh": label.zh,
                "action_name_en": label.en,
                "status": row.status,
            }
        )
        spans_time = row.action == HistoryAction.CREATE or row.stop_time != row.start_time
        if row.stop_time is not None and spans_time:
            item["stop_time"] = epoch_ms(row.stop_time)
        if row.comment:
            item["comment"] = row.comment
        enum_data = []
        if row.operator_id is not None and step_id is None:
            name = people.get(row.operator_id, row.operator_id)
            enum_data.append(
                {"name_zh": name, "name_en": name, "biz_id": row.operator_id, "prop_id": "operator"}
            )
        for field, key, text in names.enum_data(row.changes):
            enum_data.append(
                {"name_zh": text.zh, "name_en": text.en, "biz_id": key, "prop_id": field}
            )
        item["enum_data_list"] = enum_data
        info.append(item)
    return info


async def _history_page(
    db: Database, caller: Caller, number: str, query: ListQuery, *, with_id: bool
) -> tuple[int, list[dict[str, Any]]]:
    async with db.read() as session:
        rows, total = await search_history(
            session=session, caller=caller, number=number, query=query
        )
        names = await enum_names(session=session, rows=rows)
        people = await display_names(
            session=session, user_ids={row.operator_id for row in rows if row.operator_id}
        )
    return total, history_info(rows, names, people, with_id=with_id)


@router.post("/v2/incidents/{incident_id}/histories", openapi_extra=HISTORIES_BODY)
async def list_histories(
    incident_id: IncidentId, request: Request, caller: CurrentCaller, db: DB
) -> Response:
    body = await _body(request)
    if "incident_id" in body and body["incident_id"] != incident_id:
        raise ValidationFailed(
            "incident_id: the body names another incident than the path", field="incident_id"
        )
    query = parse_history_search(
        {k: v for k, v in body.items() if k != "incident_id"}, selectable=HISTORY_FIELDS
    )
    total, info = await _history_page(db, caller, incident_id, query, with_id=False)
    return envelope_response(
        {"total": total, "info": projected(info, query.fields, V2_HISTORY_KEY)}
    )


# Workflow nodes (ShowIncidentTask) ---------------------------------------------------------

_NODE_TYPES = {
    Phase.PAUSE_REQUESTED: "ApprovalNode",
    Phase.LEVEL_CHANGE_REQUESTED: "ApprovalNode",
    Phase.PAUSED: "PauseNode",
    Phase.COMPLETED: "EndNode",
}


def task_id_of(incident: Incident) -> str:
    """The current node's task: it changes with every change, so an action sent for a
    node the incident has left is refused instead of applied to the wrong state."""
    return f"{phase_of_incident(incident).value}-{incident.version}"


@router.get("/v2/incidents/{incident_id}/tasks")
async def show_tasks(incident_id: IncidentId, caller: CurrentCaller, db: DB) -> dict[str, Any]:
    async with db.read() as session:
        incident = await service.access_incident(session=session, caller=caller, number=incident_id)
        work = await coc_tasks.work_nodes(session=session, caller=caller, incident=incident)
    phase = phase_of_incident(incident)
    task_id = task_id_of(incident)
    operations = [
        {"task_id": task_id, "key": key_of(action, phase)}
        for action in available_actions(incident, caller)
        if action in V2_KEYS
    ]
    node = {
        "type": _NODE_TYPES.get(phase, "OperateNode"),
        "name": PHASE_LABELS[phase].zh,
        "key": phase.value,
        "state": "running" if phase is not Phase.COMPLETED else "finished",
        "operations": operations,
    }
    return envelope([node, *work])


async def _act(
    *,
    session: AsyncSession,
    actor: Caller,
    number: str,
    key: str,
    raw_params: Any,
    now: datetime,
    rules: IncidentRules,
    v1: bool,
    task_id: str | None = None,
) -> None:
    incident = await service.access_incident(
        session=session, caller=actor, number=number, for_update=True
    )
    if task_id is not None and task_id != task_id_of(incident):
        raise Conflict(
            f"task_id: {task_id!r} is not the incident's current task; ask "
            f"/v2/incidents/{number}/tasks again",
            field="task_id",
        )
    phase = phase_of_incident(incident)
    action = action_for(key, phase, available_actions(incident, actor), v1=v1)
    translated = coc_params(action, raw_params)
    if action is Action.RESOLVE and isinstance(raw_params, dict):
        documents = doc_ids(raw_params.get("resolve_attachments"), "params.resolve_attachments")
        translated["attachment_ids"] = await attachments.claim_uploads(
            session=session,
            caller=actor,
            number=number,
            doc_ids=documents,
            now=now,
            rules=rules,
            context="solution",
        )
    try:
        params = parse_params(action, translated)
        await apply_action(
            session=session,
            incident=incident,
            actor=Actor(actor),
            action=action,
            params=params,
            now=now,
            rules=rules,
        )
    except ValidationFailed as exc:
        field = exc.field or "params"
        if action is Action.REOPEN and field in RESUBMIT_NAMES:
            field = f"resubmission.{field}"  # a resubmitted field the service refused
        coc_name = COC_NAMES.get(field, field)
        raise ValidationFailed(
            exc.message.replace(exc.field or "params", f"params.{coc_name}", 1),
            field=f"params.{coc_name}",
        ) from None
    if action is Action.REOPEN and isinstance(raw_params, dict):
        await attachments.claim_uploads(
            session=session,
            caller=actor,
            number=number,
            doc_ids=doc_ids(raw_params.get("attachments"), "params.attachments"),
            now=now,
            rules=rules,
        )


def _required_text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{name}: is required", field=name)
    if len(value) > limit:
        raise ValidationFailed(f"{name}: is longer than {limit} characters", field=name)
    return value


@router.post("/v2/incidents/{incident_id}/actions", openapi_extra=ACTION_BODY)
async def handle_incident(
    incident_id: IncidentId,
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
) -> dict[str, Any]:
    body = await _body(request)
    task_id = _required_text(body, "task_id", 100)
    key = _required_text(body, "action", 100).strip()
    async with db.write() as session:
        await _act(
            session=session,
            actor=caller,
            number=incident_id,
            key=key,
            raw_params=body.get("params"),
            now=clock.now(),
            rules=rules,
            v1=False,
            task_id=task_id.strip(),
        )
    return envelope(None)


async def _operator(
    session: AsyncSession, caller: Caller, operator: str, field: str = "operator"
) -> Caller:
    """Who acts: the token's user, or (for an admin's integration token) the named user."""
    if operator == caller.user_id:
        return caller
    if not caller.can(Role.ADMIN):
        raise ValidationFailed(
            f"{field}: must be the user of the token (only an admin's token may act for "
            "someone else)",
            field=field,
        )
    found = await caller_by_id(session=session, user_id=operator)
    if found is None:
        raise ValidationFailed(f"{field}: no active user {operator}", field=field)
    return found


@router.post("/v1/external/incident/handle", openapi_extra=HANDLE_BODY)
async def handle_incident_v1(
    request: Request, caller: CurrentCaller, db: DB, clock: ClockDep, rules: Rules
) -> dict[str, Any]:
    body = await _body(request)
    number = _required_text(body, "incident_num", 255)
    operator = _required_text(body, "operator", 64)
    key = _required_text(body, "operate_key", 100).strip()
    async with db.write() as session:
        actor = await _operator(session, caller, operator)
        await _act(
            session=session,
            actor=actor,
            number=number,
            key=key,
            raw_params=body.get("parameter"),
            now=clock.now(),
            rules=rules,
            v1=True,
        )
    return envelope(None)


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
    body = await _body(request)
    title = _required_text(body, "incident_title", 200)
    documents = doc_ids(body.get("attachments"), "attachments")
    level = _required_text(body, "incident_level", 64)
    category = _required_text(body, "incident_type", 64)
    source = _required_text(body, "incident_source", 64)
    creator = _required_text(body, "creator", 64)
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
        acting = await _operator(session, caller, creator, "creator")
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
        incident = await service.create_incident(
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


# ListIncidentSimpleTickets and ListCocTicketOperationHistories (v1) -----------------------


@router.get("/v1/incident-tickets")
async def list_simple_tickets(
    caller: CurrentCaller,
    db: DB,
    offset: Annotated[int, Query(ge=1, le=2_147_483_647)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    """``offset`` is the page number (1 = first page), as COC's doc says."""
    async with db.read() as session:
        result = await search_incidents(
            session=session,
            caller=caller,
            query=parse_search({}),
            page=PageRequest(offset, limit),
        )
    tickets = [
        {
            "title": item.title,
            "ticket_id": item.number,
            "description": item.description,
            "status": item.status,
            "level": item.level,
            "enterprise_project": item.enterprise_project,
            "source": item.source,
            "creator": item.creator_id,
            "assignee": _listed(item.assignee_id),
        }
        for item in result.items
    ]
    return envelope({"total": result.total, "IncidentSimpleTicketInfos": tickets})


@router.post("/v1/external/{ticket_type}/list-histories")
async def list_ticket_histories(
    ticket_type: str, request: Request, caller: CurrentCaller, db: DB
) -> Response:
    """The history of the incident named by a ``ticket_id`` filter (``=`` or ``in`` with one
    value); the other filters and the sort work as on the v2 histories."""
    if ticket_type != "incident":
        raise ValidationFailed(
            f"ticket_type: {ticket_type!r} is not supported; use 'incident'", field="ticket_type"
        )
    body = await _body(request)
    filters = body.get("string_filters")
    if not isinstance(filters, list):
        raise ValidationFailed(
            "string_filters: name the incident with a ticket_id filter", field="string_filters"
        )
    number = None
    rest = []
    for item in filters:
        if isinstance(item, dict) and item.get("field") == "ticket_id":
            values = item.get("values")
            if (
                item.get("operator") not in ("=", "in")
                or not isinstance(values, list)
                or len(values) != 1
                or not isinstance(values[0], str)
            ):
                raise ValidationFailed(
                    "string_filters: ticket_id takes '=' (or 'in') with one incident number",
                    field="string_filters",
                )
            number = values[0]
        else:
            rest.append(item)
    if number is None:
        raise ValidationFailed(
            "string_filters: name the incident with a ticket_id filter", field="string_filters"
        )
    query = parse_history_search({**body, "string_filters": rest}, selectable=V1_HISTORY_FIELDS)
    total, info = await _history_page(db, caller, number, query, with_id=True)
    for item in info:
        item["ticket_id"] = number
    info = projected(info, query.fields, V1_HISTORY_KEY)
    return envelope_response({"total": total, "info": info})


# Attachments ---------------------------------------------------------------------------------


def _storage(request: Request) -> Path:
    settings: Settings = request.app.state.settings
    return attachments.attachments_dir(settings)


async def _upload(
    request: Request,
    caller: Caller,
    db: Database,
    now: datetime,
    rules: IncidentRules,
    file: UploadFile | None,
) -> dict[str, Any]:
    if file is None:
        raise ValidationFailed(
            "file: send the file as the multipart form field 'file'", field="file"
        )
    data = await file.read(rules.attachment_max_bytes + 1)
    async with db.write() as session:
        upload = await attachments.store_pending_upload(
            session=session,
            caller=caller,
            file_name=file.filename or "",
            data=data,
            now=now,
            rules=rules,
            storage_dir=_storage(request),
        )
    # CreateExternalCocAttachment answers in its own envelope: code "0" is success.
    return {
        "code": "0",
        "provider_code": "049",
        "msg": "",
        "data": {"doc_id": upload.id, "doc_name": upload.file_name},
    }


@router.post("/v1/external/incident/attachments")
async def upload_external(
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    """Upload one file (multipart field ``file``) before naming it on create or solution."""
    return await _upload(request, caller, db, clock.now(), rules, file)


@router.post("/v1/incident/attachments")
async def upload_generic(
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    return await _upload(request, caller, db, clock.now(), rules, file)


@router.get("/v1/incident/attachments/{doc_id}", response_class=FileResponse)
async def download_document(
    doc_id: DocId, request: Request, caller: CurrentCaller, db: DB
) -> FileResponse:
    async with db.read() as session:
        sha256, content_type, name = await attachments.get_upload(
            session=session, caller=caller, doc_id=doc_id
        )
    path = attachments.content_path(_storage(request), sha256)
    if not path.is_file():
        raise NotFound(f"the content of document {doc_id} is missing", field="doc_id")
    return file_download(path, content_type, name)
