"""Incident search with the COC filter language: the field catalogue (COC's list names, plus
opsdesk's own fields) and the one query behind ``/api/v1/incidents/search``.

The search starts from what the caller may see (``visible_to``); filters only narrow it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import ValidationFailed
from opsdesk.core.pagination import PageRequest
from opsdesk.incidents.access import access_incident, visible_to
from opsdesk.incidents.fields import LEVELS, Channel, Ownership, Source, Status
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.query.errors import QueryError
from opsdesk.query.request import Catalogue, FieldSpec, Kind, ListQuery, parse_request
from opsdesk.query.sql import count_clause, order_clause, where_clause


def _values(enum: type[Any]) -> frozenset[str]:
    return frozenset(str(member) for member in enum)


_BOOL = frozenset({"true", "false"})

# COC's list (v2) names first, then the native fields COC has no name for.
CATALOGUE = Catalogue.of(
    FieldSpec("ticket_id", Kind.STRING),
    FieldSpec("title", Kind.STRING),
    FieldSpec("description", Kind.STRING, sortable=False),
    FieldSpec("level_id", Kind.ENUM, frozenset(LEVELS), groupable=True),
    FieldSpec("mtm_type", Kind.STRING, groupable=True),
    FieldSpec("mtm_region", Kind.STRING, groupable=True),
    FieldSpec("source_id", Kind.ENUM, _values(Source), groupable=True),
    FieldSpec("enterprise_project_id", Kind.STRING, groupable=True),
    FieldSpec("current_cloud_service_id", Kind.STRING, groupable=True),
    FieldSpec("is_service_interrupt", Kind.ENUM, _BOOL, groupable=True),
    FieldSpec("work_flow_status", Kind.ENUM, _values(Status), groupable=True),
    FieldSpec("assignee", Kind.STRING, groupable=True),
    FieldSpec("creator", Kind.STRING, groupable=True),
    FieldSpec("create_time", Kind.TIMESTAMP),
    FieldSpec("update_time", Kind.TIMESTAMP),
    FieldSpec("start_time", Kind.TIMESTAMP),
    FieldSpec("incident_ownership", Kind.ENUM, _values(Ownership), groupable=True),
    FieldSpec("reporter", Kind.STRING, groupable=True),
    FieldSpec("workgroup", Kind.STRING, groupable=True),
    FieldSpec("channel", Kind.ENUM, _values(Channel), groupable=True),
    FieldSpec("impact", Kind.INTEGER, groupable=True),
    FieldSpec("urgency", Kind.INTEGER, groupable=True),
    FieldSpec("reopen_count", Kind.INTEGER),
    FieldSpec("major", Kind.ENUM, _BOOL, groupable=True),
)


def _flag(column: ColumnElement[Any]) -> ColumnElement[str]:
    # Booleans are compared as the strings COC sends ("true"/"false"), the same on both.
    return case((column.is_(True), "true"), else_="false")


_table = Incident.__table__
COLUMNS: dict[str, ColumnElement[Any]] = {
    "ticket_id": _table.c.number,
    "title": _table.c.title,
    "description": _table.c.description,
    "level_id": _table.c.level,
    "mtm_type": _table.c.category,
    "mtm_region": _table.c.region,
    "source_id": _table.c.source,
    "enterprise_project_id": _table.c.enterprise_project,
    "current_cloud_service_id": _table.c.application,
    "is_service_interrupt": _flag(_table.c.service_interrupted),
    "work_flow_status": _table.c.status,
    "assignee": _table.c.assignee_id,
    "creator": _table.c.creator_id,
    "create_time": _table.c.created_at,
    "update_time": _table.c.updated_at,
    "start_time": _table.c.fault_occurred_at,
    "incident_ownership": _table.c.ownership,
    "reporter": _table.c.reporter_id,
    "workgroup": _table.c.workgroup,
    "channel": _table.c.channel,
    "impact": _table.c.impact,
    "urgency": _table.c.urgency,
    "reopen_count": _table.c.reopen_count,
    "major": _flag(_table.c.major),
}


# The native name of each catalogue field, for projecting native answers (``fields``).
NATIVE_NAMES: dict[str, str] = {
    "ticket_id": "number",
    "level_id": "level",
    "mtm_type": "category",
    "mtm_region": "region",
    "source_id": "source",
    "enterprise_project_id": "enterprise_project",
    "current_cloud_service_id": "application",
    "is_service_interrupt": "service_interrupted",
    "work_flow_status": "status",
    "assignee": "assignee_id",
    "creator": "creator_id",
    "create_time": "created_at",
    "update_time": "updated_at",
    "start_time": "fault_occurred_at",
    "incident_ownership": "ownership",
    "reporter": "reporter_id",
}


def _checked(raw: Any, catalogue: Catalogue, selectable: Collection[str] | None) -> ListQuery:
    try:
        return parse_request(raw, catalogue, selectable=selectable)
    except QueryError as exc:
        raise ValidationFailed(exc.message, field=exc.field) from None


def parse_search(raw: Any, *, selectable: Collection[str] | None = None) -> ListQuery:
    """A search body checked against the incident catalogue; problems name the part.
    ``fields`` names catalogue fields, or ``selectable`` ones if given."""
    return _checked(raw, CATALOGUE, selectable)


@dataclass(frozen=True)
class SearchResult:
    items: list[Incident]
    total: int | None
    groups: list[tuple[Any, int]]
    counts: dict[str, int]


async def search_incidents(
    *,
    session: AsyncSession,
    caller: Caller,
    query: ListQuery,
    page: PageRequest,
    contain_total: bool = True,
) -> SearchResult:
    """One page of the incidents ``caller`` may see that ``query`` selects."""
    base = visible_to(caller).where(where_clause(query, COLUMNS))
    ordered = base.order_by(
        *(
            (order_clause(query.sort, COLUMNS),)
            if query.sort is not None
            else (Incident.created_at.desc(),)
        ),
        Incident.id.desc(),
    )
    items = list(await session.scalars(ordered.offset(page.offset).limit(page.per_page)))
    total = None
    if contain_total and len(items) < page.per_page and (items or page.offset == 0):
        # A short page (or an empty first one) is the last: the count needs no query.
        total = page.offset + len(items)
    elif contain_total:
        counted = await session.scalar(
            select(func.count()).select_from(base.order_by(None).subquery())
        )
        total = int(counted or 0)
    groups: list[tuple[Any, int]] = []
    if query.group_by is not None:
        column = COLUMNS[query.group_by]
        grouped = (
            base.with_only_columns(column.label("value"), func.count().label("n"))
            .group_by(column)
            .order_by(column)
        )
        groups = [(value, int(n)) for value, n in await session.execute(grouped)]
    counts = {}
    for named in query.counts:
        narrowed = base.where(count_clause(named.filters, COLUMNS))
        value = await session.scalar(
            select(func.count()).select_from(narrowed.order_by(None).subquery())
        )
        counts[named.name] = int(value or 0)
    return SearchResult(items=items, total=total, groups=groups, counts=counts)


# The operation history of one incident (COC's ``/v2/incidents/{id}/histories``).
HISTORY_CATALOGUE = Catalogue.of(
    FieldSpec("action", Kind.STRING, groupable=True),
    FieldSpec("operator", Kind.STRING, groupable=True),
    FieldSpec("status", Kind.ENUM, _values(Status), groupable=True),
    FieldSpec("start_time", Kind.TIMESTAMP),
    FieldSpec("stop_time", Kind.TIMESTAMP),
    FieldSpec("comment", Kind.STRING, sortable=False),
)
_history = IncidentHistory.__table__
HISTORY_COLUMNS: dict[str, ColumnElement[Any]] = {
    "action": _history.c.action,
    "operator": _history.c.operator_id,
    "status": _history.c.status,
    "start_time": _history.c.start_time,
    "stop_time": _history.c.stop_time,
    "comment": _history.c.comment,
}


def parse_history_search(raw: Any, *, selectable: Collection[str] | None = None) -> ListQuery:
    """A history search body checked against the history catalogue."""
    return _checked(raw, HISTORY_CATALOGUE, selectable)


async def search_history(
    *, session: AsyncSession, caller: Caller, number: str, query: ListQuery, limit: int = 10_000
) -> tuple[list[IncidentHistory], int]:
    """The incident's history rows that ``query`` selects (newest first by default) and how
    many there are; end users never see internal rows."""
    incident = await access_incident(session=session, caller=caller, number=number)
    base = select(IncidentHistory).where(
        IncidentHistory.incident_id == incident.id, where_clause(query, HISTORY_COLUMNS)
    )
    if not caller.is_staff:
        base = base.where(IncidentHistory.internal.is_(False))
    order = (
        order_clause(query.sort, HISTORY_COLUMNS)
        if query.sort is not None
        else IncidentHistory.start_time.desc()
    )
    rows = list(await session.scalars(base.order_by(order, IncidentHistory.id.desc()).limit(limit)))
    if len(rows) < limit:
        return rows, len(rows)  # every matching row is here: no count query needed
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    return rows, int(total or 0)
