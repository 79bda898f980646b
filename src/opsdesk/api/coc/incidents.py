"""COC incident routes: detail (v1), list and histories (v2), in COC's names and envelope.

Translation only: the same services as the native API answer, with the same rules.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from opsdesk.api.coc.envelope import envelope
from opsdesk.api.deps import DB, CurrentCaller
from opsdesk.auth.roles import Caller
from opsdesk.auth.service import display_names
from opsdesk.core.clock import epoch_ms
from opsdesk.core.errors import ValidationFailed
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.incidents import service
from opsdesk.incidents.actions import phase_of_incident
from opsdesk.incidents.fields import history_action_label
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.search import (
    parse_history_search,
    parse_search,
    search_history,
    search_incidents,
)
from opsdesk.incidents.service import EnumNames, enum_names

router = APIRouter(tags=["COC-compatible"])


def _ms(value: Any) -> int | None:
    return None if value is None else epoch_ms(value)


def _text_ms(value: Any) -> str | None:
    return None if value is None else str(epoch_ms(value))


def _listed(value: str | None) -> list[str]:
    return [] if value is None else [value]


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ValidationFailed("body: is not valid JSON", field="body") from None


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
        "forward_rule_id": None,
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
async def show_incident(incident_num: str, caller: CurrentCaller, db: DB) -> dict[str, Any]:
    async with db.read() as session:
        incident = await service.access_incident(
            session=session, caller=caller, number=incident_num
        )
    return envelope(detail_of(incident))


@router.post("/v2/incidents/list")
async def list_incidents(request: Request, caller: CurrentCaller, db: DB) -> dict[str, Any]:
    body = await _json(request)
    if not isinstance(body, dict):
        raise ValidationFailed("body: must be an object", field="body")
    page = _int_param(body, "page", 1, 1, 1_000_000)
    per_page = _int_param(body, "per_page", 10, 1, MAX_PER_PAGE)
    contain_total = _bool_param(body, "contain_total", True)
    query = parse_search({key: value for key, value in body.items() if key not in _LIST_ONLY_KEYS})
    async with db.read() as session:
        result = await search_incidents(
            session=session,
            caller=caller,
            query=query,
            page=PageRequest(page, per_page),
            contain_total=contain_total,
        )
    data: dict[str, Any] = {"tickets": [ticket_of(item) for item in result.items]}
    if contain_total:
        data["total"] = result.total
    if query.group_by is not None:
        data["group_by"] = [{"value": value, "count": n} for value, n in result.groups]
    if query.counts:
        data["counts"] = result.counts
    return envelope(data)


# Request keys of ListIncidents that are not part of the filter language.
_LIST_ONLY_KEYS = frozenset(
    {"page", "per_page", "contain_all", "contain_total", "contain_sub_ticket", "ticket_types"}
)


async def history_info(
    rows: list[IncidentHistory], caller: Caller, names: EnumNames, people: dict[str, str]
) -> list[dict[str, Any]]:
    info = []
    for row in rows:
        label = history_action_label(row.action)
        item: dict[str, Any] = {
            "action": row.action,
            "operator": row.operator_id,
            "start_time": epoch_ms(row.start_time),
            "action_name_zh": label.zh,
            "action_name_en": label.en,
            "status": row.status,
        }
        if row.stop_time is not None:
            item["stop_time"] = epoch_ms(row.stop_time)
        if row.comment:
            item["comment"] = row.comment
        enum_data = []
        if row.operator_id is not None:
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


@router.post("/v2/incidents/{incident_id}/histories")
async def list_histories(
    incident_id: str, request: Request, caller: CurrentCaller, db: DB
) -> dict[str, Any]:
    body = await _json(request)
    if not isinstance(body, dict):
        raise ValidationFailed("body: must be an object", field="body")
    if "incident_id" in body and body["incident_id"] != incident_id:
        raise ValidationFailed(
            "incident_id: the body names another incident than the path", field="incident_id"
        )
    query = parse_history_search({k: v for k, v in body.items() if k != "incident_id"})
    async with db.read() as session:
        rows, total = await search_history(
            session=session, caller=caller, number=incident_id, query=query
        )
        names = await enum_names(session=session, rows=rows)
        people = await display_names(
            session=session, user_ids={row.operator_id for row in rows if row.operator_id}
        )
    return envelope({"total": total, "info": await history_info(rows, caller, names, people)})
