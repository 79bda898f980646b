"""Native incident routes under ``/api/v1/incidents``: translation only, rules live in services."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from opsdesk.api.body_limits import MAX_JSON_DEPTH, json_too_deep
from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.auth.roles import Caller
from opsdesk.core.bounds import MAX_PAGE
from opsdesk.core.clock import epoch_ms
from opsdesk.core.database import Database
from opsdesk.core.errors import ValidationFailed
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.incidents import access, creation, editing
from opsdesk.incidents.actions import phase_of_incident
from opsdesk.incidents.fields import LEVEL_LABELS, Label, history_row_label
from opsdesk.incidents.history import EnumNames, enum_names
from opsdesk.incidents.lifecycle import PHASE_LABELS, status_label
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.queries import parse_list_params
from opsdesk.incidents.schemas import (
    EnumDataOut,
    FieldChangeOut,
    HistoryOut,
    IncidentCreate,
    IncidentUpdate,
)
from opsdesk.incidents.schemas import IncidentOut as IncidentFields
from opsdesk.incidents.search import NATIVE_NAMES, parse_search, search_incidents
from opsdesk.relations import links
from opsdesk.sla import display as sla_display
from opsdesk.sla import queries as sla_queries
from opsdesk.sla.schemas import SlaOut

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


_COMPUTED = frozenset(
    {"level_label", "status_label", "phase", "phase_label", "sla", "merged_into", "parent"}
)


class IncidentOut(IncidentFields):
    sla: list[SlaOut] = Field(
        default_factory=list,
        description="SLA clocks: computed now on the detail, as last stored in lists",
    )


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    page: int
    per_page: int


def incident_out(
    incident: Incident,
    sla: Sequence[sla_display.ClockView] = (),
    merged_into: str | None = None,
    parent: str | None = None,
) -> IncidentOut:
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
        sla=[SlaOut.model_validate(view.as_dict()) for view in sla],
        merged_into=merged_into,
        parent=parent,
    )


def history_out(row: IncidentHistory, names: EnumNames) -> HistoryOut:
    label = history_row_label(row.action, row.changes)
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
        incident = await creation.create_incident(
            session=session, caller=caller, data=body, now=clock.now(), rules=rules
        )
        clocks = await sla_display.current_clocks(
            session, incident, now=clock.now(), just_created=True
        )
    response.headers["Location"] = f"/api/v1/incidents/{incident.number}"
    response.headers["ETag"] = incident_etag(incident)
    return incident_out(incident, clocks)


@router.get("", response_model=IncidentPage)
async def list_incidents(request: Request, caller: CurrentCaller, db: DB) -> IncidentPage:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    # SLA filters and sort live in the sla package, above incidents (see sla/queries.py).
    params, sla_params = sla_queries.take_list_params(params)
    spec = sla_queries.narrow(parse_list_params(params), sla_params)
    async with db.read() as session:
        page = await access.list_incidents(session=session, caller=caller, spec=spec)
        clocks = await sla_display.stored_clocks(session, [item.id for item in page.items])
        merged = await access.merged_into_numbers(session, page.items)
        parents = await links.parent_numbers(session=session, caller=caller, incidents=page.items)
    return IncidentPage(
        items=[
            incident_out(item, clocks[item.id], merged.get(item.id), parents.get(item.id))
            for item in page.items
        ],
        total=page.total,
        page=page.page,
        per_page=page.per_page,
    )


class SearchGroup(BaseModel):
    value: str | int | bool | None
    count: int


class SearchPage(BaseModel):
    items: list[IncidentOut]
    total: int | None
    page: int
    per_page: int
    groups: list[SearchGroup] = Field(description="Counts per value of group_by_filter.field")
    counts: dict[str, int] = Field(description="One total per count_filters entry, by name")


async def _search(
    body: Any, caller: Caller, db: Database, page: int, per_page: int, contain_total: bool
) -> SearchPage:
    query = parse_search(body)
    async with db.read() as session:
        result = await search_incidents(
            session=session,
            caller=caller,
            query=query,
            page=PageRequest(page, per_page),
            contain_total=contain_total,
        )
        parents = await links.parent_numbers(session=session, caller=caller, incidents=result.items)
    items = [incident_out(item, parent=parents.get(item.id)) for item in result.items]
    if query.fields:
        # A projection keeps the number (to refer to the incident) and the chosen fields.
        keep = {"number", *(NATIVE_NAMES.get(name, name) for name in query.fields)}
        items = [IncidentOut.model_construct(**item.model_dump(include=keep)) for item in items]
    return SearchPage(
        items=items,
        total=result.total,
        page=page,
        per_page=per_page,
        groups=[SearchGroup(value=value, count=count) for value, count in result.groups],
        counts=result.counts,
    )


@router.post("/search", response_model=SearchPage, response_model_exclude_unset=True)
async def search_incidents_post(
    request: Request,
    caller: CurrentCaller,
    db: DB,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
    contain_total: bool = True,
) -> SearchPage:
    """Search with COC's filter language in the body (``string_filters``, ``int_filters``,
    ``condition``, ``sort_filter``, ``group_by_filter``, ``count_filters``, ``fields``)."""
    try:
        body = await request.json()
    except ValueError:
        raise ValidationFailed("body: is not valid JSON", field="body") from None
    return await _search(body, caller, db, page, per_page, contain_total)


@router.get("/search", response_model=SearchPage, response_model_exclude_unset=True)
async def search_incidents_get(
    caller: CurrentCaller,
    db: DB,
    filter_json: Annotated[str, Query(alias="filter", max_length=100_000)] = "{}",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
    contain_total: bool = True,
) -> SearchPage:
    """The same search, with the body as JSON in ``?filter=`` (for links and saved views)."""
    if json_too_deep(filter_json.encode()):
        raise ValidationFailed(
            f"filter: JSON nesting is deeper than {MAX_JSON_DEPTH} levels", field="filter"
        )
    try:
        body = json.loads(filter_json)
    except ValueError:
        raise ValidationFailed("filter: is not valid JSON", field="filter") from None
    return await _search(body, caller, db, page, per_page, contain_total)


@router.get("/{number}", response_model=IncidentOut)
async def get_incident(
    number: str, caller: CurrentCaller, db: DB, clock: ClockDep, response: Response
) -> IncidentOut:
    async with db.read() as session:
        incident = await access.access_incident(session=session, caller=caller, number=number)
        clocks = await sla_display.current_clocks(session, incident, now=clock.now())
        merged_into = await access.merged_into_number(session, incident)
        parents = await links.parent_numbers(session=session, caller=caller, incidents=[incident])
    response.headers["ETag"] = incident_etag(incident)
    return incident_out(incident, clocks, merged_into, parents.get(incident.id))


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
        incident = await editing.update_incident(
            session=session,
            caller=caller,
            number=number,
            data=body,
            now=clock.now(),
            rules=rules,
            expected_version=expected_version(if_match),
        )
        clocks = await sla_display.current_clocks(session, incident, now=clock.now())
        parents = await links.parent_numbers(session=session, caller=caller, incidents=[incident])
    response.headers["ETag"] = incident_etag(incident)
    return incident_out(incident, clocks, parent=parents.get(incident.id))


@router.get("/{number}/history", response_model=list[HistoryOut])
async def incident_history(number: str, caller: CurrentCaller, db: DB) -> list[HistoryOut]:
    async with db.read() as session:
        rows = await access.list_history(session=session, caller=caller, number=number)
        names = await enum_names(session=session, rows=rows)
    return [history_out(row, names) for row in rows]
