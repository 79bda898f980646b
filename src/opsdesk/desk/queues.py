"""Queues and the desk's filter: which incidents a queue holds, counted and listed.

A queue is a named slice of what the caller may see (``visible_to``): mine, my groups',
unassigned, breaching soon, breached, awaiting approval, waiting for the requester, all.
Filters on top of a queue are a COC list body (``string_filters`` + ``condition``), the
language ``/api/v1/incidents/search`` speaks, with one more field: ``phase``, the status
refined by its sub-state (pause requested, paused, level change requested).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.models import WorkgroupMember
from opsdesk.auth.roles import Caller, Role
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.access import visible_to
from opsdesk.incidents.fields import Status
from opsdesk.incidents.lifecycle import Phase, status_of
from opsdesk.incidents.models import Incident
from opsdesk.incidents.search import CATALOGUE, COLUMNS
from opsdesk.query.errors import QueryError
from opsdesk.query.request import Catalogue, FieldSpec, Kind, ListQuery, parse_request
from opsdesk.query.sql import where_clause
from opsdesk.sla.clock import ClockState
from opsdesk.sla.models import IncidentSla
from opsdesk.sla.queries import take_list_params

OPEN_STATUSES = (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)
BREACHING_WINDOW = timedelta(hours=1)
MAX_PER_PAGE = 100
# Counting stops here: "10000+" says enough, and counting 100,000 rows on every page view
# (and every counter of My work) would cost more than the page itself.
COUNT_CAP = 10_000
COUNTER_CAP = 1_000


class Queue(StrEnum):
    MINE = "mine"
    GROUPS = "groups"
    GROUPS_UNASSIGNED = "groups_unassigned"
    UNASSIGNED = "unassigned"
    BREACHING = "breaching"
    BREACHED = "breached"
    APPROVAL = "approval"
    WAITING = "waiting"
    MAJOR = "major"
    ALL = "all"


QUEUE_LABELS: dict[Queue, str] = {
    Queue.MINE: "Assigned to me",
    Queue.GROUPS: "My groups",
    Queue.GROUPS_UNASSIGNED: "My groups' unassigned",
    Queue.UNASSIGNED: "Unassigned",
    Queue.BREACHING: "Breaching within the hour",
    Queue.BREACHED: "Breached",
    Queue.APPROVAL: "Awaiting approval",
    Queue.WAITING: "Waiting for the requester",
    Queue.MAJOR: "Major incidents",
    Queue.ALL: "All incidents",
}

# Sort keys a queue page and a saved view accept, and what they read as.
SORTS: dict[str, str] = {
    "sla_due_at": "SLA due, soonest first",
    "-created_at": "Newest first",
    "created_at": "Oldest first",
    "-updated_at": "Recently changed",
    "level": "Level, most urgent first",
}
DEFAULT_SORT = "sla_due_at"
# Queues that hold closed incidents too open newest first: sorting every incident ever
# reported by its SLA clock would cost a probe per row, and closed ones have none.
DEFAULT_SORTS: dict[str, str] = {"all": "-created_at", "waiting": "-updated_at"}


def parse_queue(raw: str | None) -> Queue:
    if raw is None or not raw.strip():
        return Queue.MINE
    try:
        return Queue(raw.strip())
    except ValueError:
        raise ValidationFailed(
            f"queue: choose one of {', '.join(q.value for q in Queue)}", field="queue"
        ) from None


def parse_sort(raw: str | None, queue: str | None = None) -> str:
    if raw is None or not raw.strip():
        return DEFAULT_SORTS.get(queue or "", DEFAULT_SORT)
    if raw.strip() not in SORTS:
        raise ValidationFailed(f"sort: choose one of {', '.join(SORTS)}", field="sort")
    return raw.strip()


def may_approve(caller: Caller) -> bool:
    """Pause and level-decrease requests wait for an incident manager (or an admin)."""
    return caller.role in (Role.INCIDENT_MANAGER, Role.ADMIN)


# --- the phase: status refined by sub-status, as one filterable column ---------------------


def _phase_column() -> ColumnElement[str]:
    table = Incident.__table__
    with_sub = []
    plain = []
    for phase in Phase:
        status, sub = status_of(phase)
        if sub is None:
            plain.append((table.c.status == status.value, phase.value))
        else:
            condition = and_(table.c.status == status.value, table.c.sub_status == sub.value)
            with_sub.append((condition, phase.value))
    return case(*with_sub, *plain, else_=table.c.status)


DESK_CATALOGUE = Catalogue(
    fields={
        **CATALOGUE.fields,
        "phase": FieldSpec("phase", Kind.ENUM, frozenset(p.value for p in Phase), groupable=True),
    }
)
DESK_COLUMNS: dict[str, ColumnElement[Any]] = {**COLUMNS, "phase": _phase_column()}


def parse_filters(raw: Any) -> ListQuery:
    """A saved or submitted filter body, checked; problems name the part (``filters.…``)."""
    try:
        return parse_request(raw if raw is not None else {}, DESK_CATALOGUE)
    except QueryError as exc:
        raise ValidationFailed(f"filters.{exc.field}: {exc.message}", field="filters") from None


# The filter form's fields, as the COC field each one filters.
FORM_FIELDS: dict[str, str] = {
    "assignee": "assignee",
    "workgroup": "workgroup",
    "category": "mtm_type",
    "application": "current_cloud_service_id",
    "channel": "channel",
    "level": "level_id",
    "status": "phase",
}


def form_to_filters(form: Mapping[str, str]) -> dict[str, Any]:
    """The filter form's values as a COC list body (empty values are no filter)."""
    filters: list[dict[str, Any]] = []
    for name, field in FORM_FIELDS.items():
        value = form.get(name, "").strip()
        if value:
            filters.append({"name": name, "field": field, "operator": "in", "values": [value]})
    body: dict[str, Any] = {"string_filters": filters}
    text = form.get("q", "").strip()
    if text:
        filters.append(
            {"name": "q_number", "field": "ticket_id", "operator": "like", "values": [text]}
        )
        filters.append({"name": "q_title", "field": "title", "operator": "like", "values": [text]})
        named = [f["name"] for f in filters if not f["name"].startswith("q_")]
        body["condition"] = " & ".join([*named, "(q_number | q_title)"])
    return body


def filters_to_form(body: Mapping[str, Any]) -> dict[str, str]:
    """The form values a filter body stands for, as far as the form can show them."""
    form = dict.fromkeys((*FORM_FIELDS, "q"), "")
    by_field = {field: name for name, field in FORM_FIELDS.items()}
    for item in body.get("string_filters") or []:
        if not isinstance(item, Mapping):
            continue
        values = item.get("values") or []
        if item.get("name") == "q_title" and values:
            form["q"] = str(values[0])
        elif item.get("operator") == "in" and item.get("field") in by_field and values:
            form[by_field[item["field"]]] = str(values[0])
    return form


# --- queues ------------------------------------------------------------------------------


def _my_groups(user_id: str) -> Any:
    return select(WorkgroupMember.workgroup_key).where(WorkgroupMember.user_id == user_id)


def _open() -> ColumnElement[bool]:
    return Incident.status.in_(OPEN_STATUSES)


def _running_due(start: datetime, end: datetime) -> ColumnElement[bool]:
    # IN over the clocks due in the window (index on due_at): a few rows, not one probe
    # per open incident. A clock due from now on is not breached yet, so no test on
    # breached_at (which would steer the planner to that index's many NULLs).
    due = select(IncidentSla.incident_id).where(
        IncidentSla.state == ClockState.RUNNING.value,
        IncidentSla.due_at >= start,
        IncidentSla.due_at < end,
    )
    return Incident.id.in_(due)


def _breached() -> ColumnElement[bool]:
    return Incident.id.in_(
        select(IncidentSla.incident_id).where(IncidentSla.breached_at.is_not(None))
    )


def queue_conditions(queue: Queue, caller: Caller, now: datetime) -> list[ColumnElement[bool]]:
    """What narrows ``visible_to(caller)`` to ``queue``."""
    me = caller.user_id
    match queue:
        case Queue.MINE:
            return [Incident.assignee_id == me, _open()]
        case Queue.GROUPS:
            return [Incident.workgroup.in_(_my_groups(me)), _open()]
        case Queue.GROUPS_UNASSIGNED:
            return [Incident.workgroup.in_(_my_groups(me)), Incident.assignee_id.is_(None), _open()]
        case Queue.UNASSIGNED:
            return [Incident.assignee_id.is_(None), _open()]
        case Queue.BREACHING:
            return [_open(), _running_due(now, now + BREACHING_WINDOW)]
        case Queue.BREACHED:
            return [_open(), _breached()]
        case Queue.APPROVAL:
            return [
                Incident.status == Status.ACKNOWLEDGED.value,
                Incident.sub_status.in_(("pause_requested", "level_change_requested")),
            ]
        case Queue.WAITING:
            return [Incident.status == Status.RESOLVED.value]
        case Queue.MAJOR:
            return [Incident.major.is_(True), _open()]
        case Queue.ALL:
            return []


def _order(sort: str) -> list[Any]:
    if sort == "level":
        return [Incident.level.asc(), Incident.created_at.desc(), Incident.id.desc()]
    if sort.lstrip("-") in ("created_at", "updated_at"):
        column = getattr(Incident, sort.lstrip("-"))
        return [column.desc() if sort.startswith("-") else column.asc(), Incident.id.desc()]
    _rest, sla = take_list_params({"sort": [sort]})
    return [*sla.order, Incident.created_at.desc(), Incident.id.desc()]


@dataclass(frozen=True)
class QueueRequest:
    queue: Queue
    filters: ListQuery
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class QueuePage:
    items: list[Incident]
    total: int
    page: int
    per_page: int
    # True when ``total`` is the cap: there are at least that many.
    capped: bool = False


def _selected(caller: Caller, request: QueueRequest, now: datetime) -> Any:
    return visible_to(caller).where(
        *queue_conditions(request.queue, caller, now), where_clause(request.filters, DESK_COLUMNS)
    )


async def _capped_count(session: AsyncSession, selected: Any, cap: int) -> tuple[int, bool]:
    limited = selected.with_only_columns(Incident.id).order_by(None).limit(cap + 1).subquery()
    counted = int(await session.scalar(select(func.count()).select_from(limited)) or 0)
    return min(counted, cap), counted > cap


async def list_queue(
    *, session: AsyncSession, caller: Caller, request: QueueRequest, now: datetime
) -> QueuePage:
    """One page of ``request.queue`` narrowed by its filters, and how many there are."""
    base = _selected(caller, request, now)
    per_page = max(1, min(request.per_page, MAX_PER_PAGE))
    offset = (max(1, request.page) - 1) * per_page
    rows = await session.scalars(
        base.order_by(*_order(request.sort)).offset(offset).limit(per_page)
    )
    items = list(rows)
    if len(items) < per_page and (items or offset == 0):
        total, capped = offset + len(items), False
    else:
        total, capped = await _capped_count(session, base, max(COUNT_CAP, offset + 2 * per_page))
    return QueuePage(
        items=items, total=total, page=max(1, request.page), per_page=per_page, capped=capped
    )


async def count_queues(
    *, session: AsyncSession, caller: Caller, queues: Sequence[Queue], now: datetime
) -> dict[Queue, tuple[int, bool]]:
    """How many incidents each queue holds, up to ``COUNTER_CAP`` (the counters of My work)."""
    counts: dict[Queue, tuple[int, bool]] = {}
    for queue in queues:
        selected = visible_to(caller).where(*queue_conditions(queue, caller, now))
        counts[queue] = await _capped_count(session, selected, COUNTER_CAP)
    return counts


async def change_tag(
    *, session: AsyncSession, caller: Caller, request: QueueRequest, now: datetime
) -> str:
    """A short tag that changes whenever an incident enters, leaves or changes in the queue.

    Every change of an incident moves its ``updated_at``; arrivals and departures move the
    count. Both come from indexes for the big queues, so polling stays cheap."""
    base = _selected(caller, request, now).with_only_columns(Incident.updated_at).subquery()
    row = (await session.execute(select(func.count(), func.max(base.c.updated_at)))).one()
    seed = f"{request.queue}|{row[0]}|{row[1]}".encode()
    return hashlib.sha256(seed).hexdigest()[:20]
