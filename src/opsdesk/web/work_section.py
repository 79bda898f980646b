"""The tasks and work orders section of the incident page: its rows and what the resolve
form warns about (used by ``incident_page`` and ``work``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth.roles import Caller
from opsdesk.collaboration import tasks, work_orders
from opsdesk.collaboration.models import IncidentTask, WorkOrder
from opsdesk.collaboration.work_states import (
    OPEN_TASK_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    TASK_LABELS,
    TASK_MOVES,
    WORK_ORDER_LABELS,
    WORK_ORDER_MOVES,
    TaskStatus,
    WorkOrderStatus,
)
from opsdesk.incidents.models import Incident
from opsdesk.web.common import _user_names


@dataclass(frozen=True)
class Move:
    status: str
    label: str


@dataclass(frozen=True)
class TaskRow:
    id: int
    title: str
    description: str
    status: str
    status_label: str
    is_open: bool
    owner: str
    due_at: datetime | None
    overdue: bool
    moves: list[Move]


@dataclass(frozen=True)
class OrderRow:
    id: int
    title: str
    incident_number: str
    status: str
    status_label: str
    is_open: bool
    workgroup: str
    workgroup_key: str
    assignee: str
    assignee_id: str
    location: str
    planned_start: datetime | None
    planned_end: datetime | None
    overdue: bool
    moves: list[Move]


@dataclass(frozen=True)
class OpenWork:
    """What the resolve form warns about."""

    summary: str
    items: list[str]


def _task_moves(status: str) -> list[Move]:
    return [
        Move(str(move), TASK_LABELS[move])
        for move in sorted(TASK_MOVES[TaskStatus(status)], key=list(TaskStatus).index)
    ]


def _order_moves(status: str) -> list[Move]:
    return [
        Move(str(move), WORK_ORDER_LABELS[move])
        for move in sorted(
            WORK_ORDER_MOVES[WorkOrderStatus(status)], key=list(WorkOrderStatus).index
        )
    ]


def task_row(
    task: IncidentTask, names: dict[str, str], groups: dict[str, str], now: datetime
) -> TaskRow:
    owner = " · ".join(
        part
        for part in (
            names.get(task.assignee_id or "", task.assignee_id or ""),
            groups.get(task.workgroup or "", task.workgroup or ""),
        )
        if part
    )
    return TaskRow(
        id=task.id,
        title=task.title,
        description=task.description,
        status=task.status,
        status_label=TASK_LABELS[TaskStatus(task.status)],
        is_open=task.status in OPEN_TASK_STATUSES,
        owner=owner or "Nobody yet",
        due_at=task.due_at,
        overdue=tasks.is_overdue(task, now),
        moves=_task_moves(task.status),
    )


def order_row(
    order: WorkOrder, number: str, names: dict[str, str], groups: dict[str, str], now: datetime
) -> OrderRow:
    return OrderRow(
        id=order.id,
        title=order.title,
        incident_number=number,
        status=order.status,
        status_label=WORK_ORDER_LABELS[WorkOrderStatus(order.status)],
        is_open=order.status in OPEN_WORK_ORDER_STATUSES,
        workgroup=groups.get(order.workgroup, order.workgroup),
        workgroup_key=order.workgroup,
        assignee=names.get(order.assignee_id or "", order.assignee_id or ""),
        assignee_id=order.assignee_id or "",
        location=order.location,
        planned_start=order.planned_start,
        planned_end=order.planned_end,
        overdue=work_orders.is_overdue(order, now),
        moves=_order_moves(order.status),
    )


def open_work_of(task_rows: list[TaskRow], order_rows: list[OrderRow]) -> OpenWork | None:
    open_tasks = [row for row in task_rows if row.is_open]
    open_orders = [row for row in order_rows if row.is_open]
    parts = [
        f"{len(found)} open {name}{'' if len(found) == 1 else 's'}"
        for found, name in ((open_tasks, "task"), (open_orders, "work order"))
        if found
    ]
    if not parts:
        return None
    return OpenWork(
        summary=" and ".join(parts),
        items=[f"Task #{row.id} {row.title} ({row.status_label})" for row in open_tasks]
        + [f"Work order #{row.id} {row.title} ({row.status_label})" for row in open_orders],
    )


async def group_names(
    session: AsyncSession, caller: Caller
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    groups = await assignment_workgroups.list_workgroups(session=session, caller=caller)
    names = {group.key: group.name for group in groups}
    order_groups = [(g.key, g.name) for g in groups if g.does_work_orders and g.enabled]
    return names, order_groups


async def work_context(
    session: AsyncSession, caller: Caller, incident: Incident, now: datetime
) -> dict[str, Any]:
    """The incident page's tasks and work orders (staff only), and what the resolve form
    warns about."""
    if not caller.is_staff:
        return {}
    task_list = await tasks.tasks_of(session, incident_id=incident.id)
    order_list = await work_orders.work_orders_of(session, incident_id=incident.id)
    names = await _user_names(
        session, [t.assignee_id for t in task_list] + [o.assignee_id for o in order_list]
    )
    groups, order_groups = await group_names(session, caller)
    task_rows = [task_row(task, names, groups, now) for task in task_list]
    order_rows = [order_row(o, incident.number, names, groups, now) for o in order_list]
    return {
        "work_tasks": task_rows,
        "work_orders": order_rows,
        "work_order_groups": order_groups,
        "open_work": open_work_of(task_rows, order_rows),
    }
