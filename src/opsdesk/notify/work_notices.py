"""Notices of tasks and work orders: assigned, due soon, overdue.

``collaboration`` queues a ``work.notice`` job in the transaction of the change (or of the
due-time sweep); this handler turns it into mails through the incident notification
machinery (templates ``work_assigned``, ``work_due_soon``, ``work_overdue``, their rules,
the outbox). The item's assignee is told, or, when it has none, its workgroup's members.
A notice whose item has meanwhile finished is dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth
from opsdesk.collaboration import tasks, work_orders
from opsdesk.collaboration.work_states import (
    OPEN_TASK_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    TASK_LABELS,
    WORK_ORDER_LABELS,
    TaskStatus,
    WorkOrderStatus,
)
from opsdesk.core.errors import NotFound
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents.models import Incident
from opsdesk.notify.service import _NOTIFIER, notify_incident_event

EVENTS = {"assigned": "work_assigned", "due_soon": "work_due_soon", "overdue": "work_overdue"}


async def _people(session: AsyncSession, assignee_id: str | None, group: str | None) -> list[str]:
    if assignee_id is not None:
        return [assignee_id]
    if group is None:
        return []
    try:
        view = await assignment_workgroups.get_workgroup(
            session=session, caller=_NOTIFIER, key=group
        )
    except NotFound:
        return []
    return list(view.members)


async def _name(session: AsyncSession, user_id: str | None) -> str:
    if user_id is None:
        return ""
    try:
        return (await auth.get_user(session=session, user_id=user_id)).name
    except NotFound:
        return ""


async def send_work_notice(
    session: AsyncSession,
    *,
    payload: dict[str, Any],
    now: datetime,
    settings: Settings | None = None,
) -> int:
    """The ``work.notice`` job: queue the mails of one notice; returns how many."""
    settings = settings or get_settings()
    event = EVENTS.get(str(payload.get("event")))
    item_id = int(payload["id"])
    if event is None:
        return 0
    base = settings.public_url.rstrip("/")
    if payload.get("item") == "task":
        task = await tasks.task_by_id(session, item_id)
        if task is None or task.status not in OPEN_TASK_STATUSES:
            return 0
        incident_id, assignee_id, group = task.incident_id, task.assignee_id, task.workgroup
        work: dict[str, Any] = {
            "kind": "task",
            "kind_label": "Task",
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "status": TASK_LABELS[TaskStatus(task.status)],
            "workgroup": task.workgroup or "",
            "due_at": task.due_at.isoformat() if task.due_at else "",
            "location": "",
        }
    else:
        order = await work_orders.work_order_by_id(session, item_id)
        if order is None or order.status not in OPEN_WORK_ORDER_STATUSES:
            return 0
        incident_id, assignee_id, group = order.incident_id, order.assignee_id, order.workgroup
        work = {
            "kind": "work_order",
            "kind_label": "Work order",
            "id": order.id,
            "title": order.title,
            "description": order.description,
            "status": WORK_ORDER_LABELS[WorkOrderStatus(order.status)],
            "workgroup": order.workgroup,
            "due_at": order.planned_end.isoformat() if order.planned_end else "",
            "location": order.location,
        }
    incident = await session.get(Incident, incident_id)
    if incident is None:
        return 0
    work["assignee_name"] = await _name(session, assignee_id)
    work["url"] = (
        f"{base}/incidents/{incident.number}#work"
        if work["kind"] == "task"
        else f"{base}/work-orders/{item_id}"
    )
    actor = payload.get("actor_id")
    return await notify_incident_event(
        session,
        incident_id=incident_id,
        event=event,
        actor_id=str(actor) if actor else None,
        now=now,
        extra={"event_key": f"{work['kind']}-{item_id}-{payload.get('event')}-{now.isoformat()}"},
        settings=settings,
        work=work,
        work_people=await _people(session, assignee_id, group),
    )
