"""COC operation histories: ListIncidentHistories (v2), ListCocTicketOperationHistories and
ListIncidentSimpleTickets (v1), with COC's filter language, projection and envelope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from opsdesk.api.coc.bodies import (
    HISTORIES_BODY,
)
from opsdesk.api.coc.envelope import envelope, envelope_response
from opsdesk.api.coc.fields import (
    HISTORY_FIELDS,
    V1_HISTORY_FIELDS,
    V1_HISTORY_KEY,
    V2_HISTORY_KEY,
    projected,
)
from opsdesk.api.coc.requests import IncidentId, json_body, listed
from opsdesk.api.deps import DB, CurrentCaller
from opsdesk.auth.roles import Caller
from opsdesk.auth.service import display_names
from opsdesk.core.clock import epoch_ms
from opsdesk.core.database import Database
from opsdesk.core.errors import ValidationFailed
from opsdesk.core.pagination import PageRequest
from opsdesk.incidents.fields import (
    HistoryAction,
    automation_step_id,
    history_row_label,
)
from opsdesk.incidents.history import EnumNames, enum_names
from opsdesk.incidents.models import IncidentHistory
from opsdesk.incidents.search import (
    parse_history_search,
    parse_search,
    search_history,
    search_incidents,
)
from opsdesk.query.request import ListQuery

router = APIRouter(tags=["COC-compatible"])


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
    body = await json_body(request)
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
            "assignee": listed(item.assignee_id),
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
    body = await json_body(request)
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
