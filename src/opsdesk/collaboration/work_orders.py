"""Use cases of work orders: on-site or technical work for work-order workgroups.

A work order belongs to an incident and to a workgroup with ``does_work_orders``. It has
its own lifecycle (``work_states``), a planned window, a location, a log and files (stored
as the incident's attachments with context ``work_order``). Every change writes an
``incident_work_order`` history row on the incident and keeps
``incidents.open_work_orders`` exact in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth.roles import Caller
from opsdesk.collaboration.models import WorkOrder, WorkOrderLog
from opsdesk.collaboration.tasks import (
    SWEEP_BATCH,
    change,
    check_assignee,
    incident_for_work,
    queue_notice,
    record_work_change,
    refuse_end_users,
)
from opsdesk.collaboration.work_schemas import (
    WorkOrderCreate,
    WorkOrderLogCreate,
    WorkOrderUpdate,
)
from opsdesk.collaboration.work_states import (
    OPEN_WORK_ORDER_STATUSES,
    MoveRefused,
    WorkOrderStatus,
    check_work_order_move,
    open_delta,
)
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.core.pagination import Page, PageRequest
from opsdesk.incidents import attachments
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.models import Attachment, Incident
from opsdesk.incidents.rules import IncidentRules

WHAT = "work orders"


def is_overdue(order: WorkOrder, now: datetime) -> bool:
    return (
        order.status in OPEN_WORK_ORDER_STATUSES
        and order.planned_end is not None
        and order.planned_end < now
    )


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValidationFailed("planned_end: must not be before planned_start", field="planned_end")


async def _check_member(session: AsyncSession, group: str, user_id: str | None) -> None:
    if user_id is None:
        return
    await check_assignee(session, user_id)
    if not await assignment_workgroups.is_member(session=session, key=group, user_id=user_id):
        raise ValidationFailed(
            f"assignee_id: {user_id} is not a member of workgroup {group}", field="assignee_id"
        )


async def create_work_order(
    *, session: AsyncSession, caller: Caller, number: str, data: WorkOrderCreate, now: datetime
) -> WorkOrder:
    """Add a new work order for a work-order workgroup; its members are told."""
    incident = await incident_for_work(session=session, caller=caller, number=number, what=WHAT)
    await assignment_workgroups.check_work_order_group(session=session, key=data.workgroup)
    await _check_member(session, data.workgroup, data.assignee_id)
    _check_window(data.planned_start, data.planned_end)
    order = WorkOrder(
        incident_id=incident.id,
        title=data.title,
        description=data.description,
        status=WorkOrderStatus.NEW,
        workgroup=data.workgroup,
        assignee_id=data.assignee_id,
        location=data.location,
        planned_start=data.planned_start,
        planned_end=data.planned_end,
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    incident.open_work_orders += 1
    await record_work_change(
        session,
        action=HistoryAction.WORK_ORDER,
        incident=incident,
        caller=caller,
        now=now,
        changes=[
            change("work_order", None, f"#{order.id} {order.title}"),
            change("work_order_status", None, "new"),
            change("work_order_workgroup", None, order.workgroup),
        ],
        comment=f"Work order #{order.id} for {order.workgroup}: {order.title}",
    )
    await queue_notice(
        session,
        item="work_order",
        item_id=order.id,
        event="assigned",
        now=now,
        key=f"{order.assignee_id}:{order.workgroup}",
        actor_id=caller.user_id,
    )
    await session.flush()
    return order


async def _load(
    session: AsyncSession, caller: Caller, order_id: int, *, lock: bool
) -> tuple[WorkOrder, Incident]:
    refuse_end_users(caller, WHAT)
    order = await session.get(WorkOrder, order_id)
    if order is None:
        raise NotFound(f"no work order {order_id}", field="id")
    incident = await session.get(Incident, order.incident_id)
    assert incident is not None  # a foreign key keeps it
    if lock:
        incident = await incident_for_work(
            session=session, caller=caller, number=incident.number, what=WHAT
        )
        # Read again under the incident's lock: a change committed while we waited for it
        # must be the one we move on from, or the open counter would count it twice.
        fresh = await session.scalar(
            select(WorkOrder)
            .where(WorkOrder.id == order_id)
            .execution_options(populate_existing=True)
        )
        assert fresh is not None  # work orders are never deleted
        order = fresh
    return order, incident


async def get_work_order(
    *, session: AsyncSession, caller: Caller, order_id: int
) -> tuple[WorkOrder, Incident]:
    """One work order and its incident; staff only."""
    return await _load(session, caller, order_id, lock=False)


async def update_work_order(
    *,
    session: AsyncSession,
    caller: Caller,
    order_id: int,
    data: WorkOrderUpdate,
    now: datetime,
) -> tuple[WorkOrder, Incident]:
    """Change fields and/or status (as the lifecycle allows), with the incident's history row."""
    order, incident = await _load(session, caller, order_id, lock=True)
    sent = data.model_dump(exclude_unset=True)
    for field in ("title", "description", "workgroup", "location"):
        if field in sent and sent[field] is None:
            raise ValidationFailed(f"{field}: cannot be null", field=field)
    group = sent.get("workgroup") or order.workgroup
    if "workgroup" in sent:
        await assignment_workgroups.check_work_order_group(session=session, key=group)
    assignee = sent.get("assignee_id", order.assignee_id)
    if "assignee_id" in sent or "workgroup" in sent:
        await _check_member(session, group, assignee)
    _check_window(
        sent.get("planned_start", order.planned_start),
        sent.get("planned_end", order.planned_end),
    )
    changes: list[dict[str, Any]] = [change("work_order", None, f"#{order.id} {order.title}")]
    status = sent.pop("status", None)
    if status is not None:
        current = WorkOrderStatus(order.status)
        try:
            check_work_order_move(current, WorkOrderStatus(status))
        except MoveRefused as exc:
            raise Conflict(str(exc), field="status") from None
        was_open = current in OPEN_WORK_ORDER_STATUSES
        is_open = WorkOrderStatus(status) in OPEN_WORK_ORDER_STATUSES
        incident.open_work_orders = max(
            0, incident.open_work_orders + open_delta(was_open, is_open)
        )
        changes.append(change("work_order_status", order.status, str(status)))
        order.status = str(status)
        order.finished_at = None if is_open else now
    reassigned = False
    for field, value in sent.items():
        old = getattr(order, field)
        if old == value:
            continue
        changes.append(change(f"work_order_{field}", old, value))
        setattr(order, field, value)
        if field in ("assignee_id", "workgroup"):
            reassigned = True
        if field == "planned_end":
            order.overdue_sent_at = None
    if len(changes) == 1:
        return order, incident
    order.updated_at = now
    await record_work_change(
        session,
        action=HistoryAction.WORK_ORDER,
        incident=incident,
        caller=caller,
        now=now,
        changes=changes,
        comment=f"Work order #{order.id} {order.title}: "
        + ", ".join(str(c["field"]).removeprefix("work_order_") for c in changes[1:]),
    )
    if reassigned:
        await queue_notice(
            session,
            item="work_order",
            item_id=order.id,
            event="assigned",
            now=now,
            actor_id=caller.user_id,
            key=f"{order.assignee_id}:{order.workgroup}:{now.isoformat()}",
        )
    await session.flush()
    return order, incident


async def list_for_incident(
    *, session: AsyncSession, caller: Caller, number: str
) -> list[WorkOrder]:
    """The incident's work orders, oldest first; staff only."""
    incident = await incident_for_work(
        session=session, caller=caller, number=number, what=WHAT, for_update=False
    )
    return await work_orders_of(session, incident_id=incident.id)


async def work_orders_of(session: AsyncSession, *, incident_id: int) -> list[WorkOrder]:
    """Unchecked: for adapters that already loaded the incident through ``access_incident``."""
    rows = await session.scalars(
        select(WorkOrder)
        .where(WorkOrder.incident_id == incident_id)
        .order_by(WorkOrder.created_at, WorkOrder.id)
    )
    return list(rows)


async def list_work_orders(
    *,
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    workgroup: str | None = None,
    status: WorkOrderStatus | None = None,
    mine: bool = False,
) -> Page[tuple[WorkOrder, str]]:
    """Work orders (with their incident's number), newest first; ``mine`` keeps the ones
    for the caller's workgroups or assigned to the caller."""
    refuse_end_users(caller, WHAT)
    query = select(WorkOrder, Incident.number).join(Incident, Incident.id == WorkOrder.incident_id)
    if workgroup is not None:
        query = query.where(WorkOrder.workgroup == workgroup)
    if status is not None:
        query = query.where(WorkOrder.status == str(status))
    if mine:
        groups = await assignment_workgroups.member_groups(session=session, user_id=caller.user_id)
        query = query.where(
            WorkOrder.workgroup.in_(groups) | (WorkOrder.assignee_id == caller.user_id)
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    return Page(
        items=[(order, number) for order, number in rows],
        total=total or 0,
        page=page.page,
        per_page=page.per_page,
    )


async def add_log(
    *,
    session: AsyncSession,
    caller: Caller,
    order_id: int,
    data: WorkOrderLogCreate,
    now: datetime,
) -> WorkOrderLog:
    """Record what was done on a work order, with a history row on the incident."""
    order, incident = await _load(session, caller, order_id, lock=True)
    entry = WorkOrderLog(
        work_order_id=order.id,
        author_id=caller.user_id,
        body=data.body,
        time_spent_s=data.time_spent_minutes * 60,
        created_at=now,
    )
    session.add(entry)
    order.updated_at = now
    await record_work_change(
        session,
        action=HistoryAction.WORK_ORDER,
        incident=incident,
        caller=caller,
        now=now,
        changes=[
            change("work_order", None, f"#{order.id} {order.title}"),
            change("work_order_log", None, data.body[:200]),
        ],
        comment=f"Work order #{order.id} log ({data.time_spent_minutes} min): {data.body}",
    )
    await session.flush()
    return entry


async def list_logs(*, session: AsyncSession, caller: Caller, order_id: int) -> list[WorkOrderLog]:
    order, _incident = await _load(session, caller, order_id, lock=False)
    return await logs_of(session, order_id=order.id)


async def logs_of(session: AsyncSession, *, order_id: int) -> list[WorkOrderLog]:
    rows = await session.scalars(
        select(WorkOrderLog)
        .where(WorkOrderLog.work_order_id == order_id)
        .order_by(WorkOrderLog.created_at, WorkOrderLog.id)
    )
    return list(rows)


async def add_attachment(
    *,
    session: AsyncSession,
    caller: Caller,
    order_id: int,
    file_name: str,
    data: bytes,
    now: datetime,
    rules: IncidentRules,
    storage_dir: Path,
) -> Attachment:
    """Keep a file on the work order: the incident's attachment, checked by content."""
    order, incident = await _load(session, caller, order_id, lock=True)
    return await attachments.store_attachment(
        session=session,
        caller=caller,
        number=incident.number,
        file_name=file_name,
        data=data,
        internal=True,
        now=now,
        rules=rules,
        storage_dir=storage_dir,
        context="work_order",
        work_order_id=order.id,
    )


async def list_attachments(
    *, session: AsyncSession, caller: Caller, order_id: int
) -> list[Attachment]:
    order, _incident = await _load(session, caller, order_id, lock=False)
    return await attachments_of(session, order_id=order.id)


async def attachments_of(session: AsyncSession, *, order_id: int) -> list[Attachment]:
    rows = await session.scalars(
        select(Attachment).where(Attachment.work_order_id == order_id).order_by(Attachment.id)
    )
    return list(rows)


async def get_attachment(
    *, session: AsyncSession, caller: Caller, order_id: int, attachment_id: int
) -> Attachment:
    order, _incident = await _load(session, caller, order_id, lock=False)
    row = await session.get(Attachment, attachment_id)
    if row is None or row.work_order_id != order.id:
        raise NotFound(f"work order {order_id} has no attachment {attachment_id}", field="id")
    return row


async def work_order_by_id(session: AsyncSession, order_id: int) -> WorkOrder | None:
    """Unchecked, for the notice job."""
    return await session.get(WorkOrder, order_id)


async def sweep_overdue_work_orders(
    session: AsyncSession, *, now: datetime, limit: int = SWEEP_BATCH
) -> int:
    """Queue the overdue notice of open work orders past their planned end, once per end."""
    rows = list(
        await session.scalars(
            select(WorkOrder)
            .where(
                WorkOrder.status.in_([str(s) for s in OPEN_WORK_ORDER_STATUSES]),
                WorkOrder.planned_end.is_not(None),
                WorkOrder.planned_end < now,
                WorkOrder.overdue_sent_at.is_(None),
            )
            .order_by(WorkOrder.planned_end)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for order in rows:
        order.overdue_sent_at = now
        assert order.planned_end is not None
        await queue_notice(
            session,
            item="work_order",
            item_id=order.id,
            event="overdue",
            now=now,
            key=order.planned_end.isoformat(),
        )
    await session.flush()
    return len(rows)
