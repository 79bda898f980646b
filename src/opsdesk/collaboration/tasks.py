"""Use cases of tasks inside an incident: add, change, list, and the due-time notices.

Tasks are staff work: end users get 403 on their own incidents and 404 on others'. Every
change writes a ``incident_task`` history row on the incident and keeps
``incidents.open_tasks`` exact in the same transaction (the resolve action reads it to ask
for an override). Notices (assigned, due soon, overdue) are ``work.notice`` jobs that
``notify.work_notices`` turns into mails after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller
from opsdesk.collaboration.models import IncidentTask
from opsdesk.collaboration.work_schemas import TaskCreate, TaskUpdate
from opsdesk.collaboration.work_states import (
    OPEN_TASK_STATUSES,
    MoveRefused,
    TaskStatus,
    check_task_move,
    open_delta,
)
from opsdesk.core import jobs
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.events import IncidentEvent, publish
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident

WORK_NOTICE_JOB = "work.notice"
DUE_SWEEP_JOB = "work.due_sweep"
DUE_SOON = timedelta(hours=1)
SWEEP_BATCH = 200

TASK_FIELDS = ("title", "description", "assignee_id", "workgroup", "due_at")


def refuse_end_users(caller: Caller, what: str) -> None:
    if not caller.is_staff:
        raise Forbidden(f"{what} are for staff only; end users cannot see or change them")


async def incident_for_work(
    *, session: AsyncSession, caller: Caller, number: str, what: str, for_update: bool = True
) -> Incident:
    """The incident (locked for a write), if staff may add or change ``what`` on it."""
    incident = await access_incident(
        session=session, caller=caller, number=number, for_update=for_update, follow_merge=False
    )
    refuse_end_users(caller, what)
    if not for_update:
        return incident
    if incident.merged_into_id is not None:
        raise Conflict(
            f"incident {number} was merged into another incident; work on that one",
            field="number",
        )
    if incident.status == Status.COMPLETED:
        raise Conflict(f"incident {number} is closed; reopen it first", field="status")
    return incident


async def check_assignee(session: AsyncSession, user_id: str | None) -> None:
    if user_id is None:
        return
    if user_id not in await auth.staff_by_id(session=session, user_ids=[user_id]):
        raise ValidationFailed(
            f"assignee_id: {user_id} is not an active staff member", field="assignee_id"
        )


def touch(incident: Incident, now: datetime) -> None:
    incident.updated_at = now
    incident.version += 1


def change(field: str, old: Any, new: Any) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return {"field": field, "old": plain(old), "new": plain(new)}


async def queue_notice(
    session: AsyncSession,
    *,
    item: str,
    item_id: int,
    event: str,
    now: datetime,
    key: str,
    actor_id: str | None = None,
) -> None:
    """A ``work.notice`` job: told once per ``key`` (e.g. the assignee, or the due time).
    ``actor_id`` (who assigned) is not told about what they did themselves."""
    await jobs.enqueue(
        session,
        kind=WORK_NOTICE_JOB,
        payload={"item": item, "id": item_id, "event": event, "actor_id": actor_id},
        now=now,
        dedupe_key=f"{WORK_NOTICE_JOB}:{item}:{item_id}:{event}:{key}"[:200],
    )


def is_overdue(task: IncidentTask, now: datetime) -> bool:
    return task.status in OPEN_TASK_STATUSES and task.due_at is not None and task.due_at < now


async def record_work_change(
    session: AsyncSession,
    *,
    incident: Incident,
    action: HistoryAction,
    caller: Caller,
    now: datetime,
    changes: list[dict[str, Any]],
    comment: str,
) -> None:
    """A task or work-order change on its incident: touched, an internal history row
    (``action`` says which kind of item), and an ``updated`` event."""
    touch(incident, now)
    session.add(
        record_history(
            incident=incident,
            action=action,
            operator_id=caller.user_id,
            now=now,
            changes=changes,
            comment=comment,
            internal=True,
        )
    )
    await publish(
        session,
        incident_id=incident.id,
        events=[IncidentEvent.UPDATED],
        actor_id=caller.user_id,
        now=now,
    )


async def create_task(
    *, session: AsyncSession, caller: Caller, number: str, data: TaskCreate, now: datetime
) -> IncidentTask:
    """Add an open task, count it open on the incident, and tell its assignee."""
    incident = await incident_for_work(session=session, caller=caller, number=number, what="tasks")
    await check_assignee(session, data.assignee_id)
    if data.workgroup is not None:
        await assignment_workgroups.check_workgroup(session=session, key=data.workgroup)
    task = IncidentTask(
        incident_id=incident.id,
        title=data.title,
        description=data.description,
        status=TaskStatus.OPEN,
        assignee_id=data.assignee_id,
        workgroup=data.workgroup,
        due_at=data.due_at,
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    incident.open_tasks += 1
    await record_work_change(
        session,
        action=HistoryAction.TASK,
        incident=incident,
        caller=caller,
        now=now,
        changes=[
            change("task", None, f"#{task.id} {task.title}"),
            change("task_status", None, "open"),
        ],
        comment=f"Task #{task.id} added: {task.title}",
    )
    if task.assignee_id is not None or task.workgroup is not None:
        await queue_notice(
            session,
            item="task",
            item_id=task.id,
            event="assigned",
            now=now,
            actor_id=caller.user_id,
            key=f"{task.assignee_id}:{task.workgroup}",
        )
    await session.flush()
    return task


async def _task(session: AsyncSession, incident: Incident, task_id: int) -> IncidentTask:
    # Read under the incident's lock (taken by the caller), never from the identity map:
    # the status we move on from must be the committed one.
    task = await session.scalar(
        select(IncidentTask)
        .where(IncidentTask.id == task_id)
        .execution_options(populate_existing=True)
    )
    if task is None or task.incident_id != incident.id:
        raise NotFound(f"incident {incident.number} has no task {task_id}", field="task_id")
    return task


async def get_task(
    *, session: AsyncSession, caller: Caller, number: str, task_id: int
) -> tuple[Incident, IncidentTask]:
    """One task with its incident; staff only, like the list (end users: 403 on their own
    incident, 404 on others')."""
    incident = await incident_for_work(
        session=session, caller=caller, number=number, what="tasks", for_update=False
    )
    return incident, await _task(session, incident, task_id)


async def update_task(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    task_id: int,
    data: TaskUpdate,
    now: datetime,
) -> IncidentTask:
    """Change a task's fields and/or status (as the lifecycle allows), with its history row."""
    incident = await incident_for_work(session=session, caller=caller, number=number, what="tasks")
    task = await _task(session, incident, task_id)
    sent = data.model_dump(exclude_unset=True)
    if "title" in sent and sent["title"] is None:
        raise ValidationFailed("title: cannot be null", field="title")
    if "description" in sent and sent["description"] is None:
        raise ValidationFailed("description: cannot be null", field="description")
    if sent.get("assignee_id") is not None:
        await check_assignee(session, sent["assignee_id"])
    if sent.get("workgroup") is not None:
        await assignment_workgroups.check_workgroup(session=session, key=sent["workgroup"])
    changes: list[dict[str, Any]] = [change("task", None, f"#{task.id} {task.title}")]
    status = sent.pop("status", None)
    if status is not None:
        current = TaskStatus(task.status)
        try:
            check_task_move(current, TaskStatus(status))
        except MoveRefused as exc:
            raise Conflict(str(exc), field="status") from None
        was_open = current in OPEN_TASK_STATUSES
        is_open = TaskStatus(status) in OPEN_TASK_STATUSES
        incident.open_tasks = max(0, incident.open_tasks + open_delta(was_open, is_open))
        changes.append(change("task_status", task.status, str(status)))
        task.status = str(status)
        task.finished_at = None if is_open else now
    reassigned = False
    for field, value in sent.items():
        old = getattr(task, field)
        if old == value:
            continue
        changes.append(change(f"task_{field}", old, value))
        setattr(task, field, value)
        if field in ("assignee_id", "workgroup"):
            reassigned = True
        if field == "due_at":
            task.due_soon_sent_at = None
            task.overdue_sent_at = None
    if len(changes) == 1:
        return task  # nothing changed: no history row
    task.updated_at = now
    await record_work_change(
        session,
        action=HistoryAction.TASK,
        incident=incident,
        caller=caller,
        now=now,
        changes=changes,
        comment=f"Task #{task.id} {task.title}: "
        + ", ".join(str(c["field"]).removeprefix("task_") for c in changes[1:]),
    )
    if reassigned and (task.assignee_id is not None or task.workgroup is not None):
        await queue_notice(
            session,
            item="task",
            item_id=task.id,
            event="assigned",
            now=now,
            actor_id=caller.user_id,
            key=f"{task.assignee_id}:{task.workgroup}:{now.isoformat()}",
        )
    await session.flush()
    return task


async def list_tasks(*, session: AsyncSession, caller: Caller, number: str) -> list[IncidentTask]:
    """The incident's tasks, oldest first; staff only."""
    incident = await incident_for_work(
        session=session, caller=caller, number=number, what="tasks", for_update=False
    )
    return await tasks_of(session, incident_id=incident.id)


async def tasks_of(session: AsyncSession, *, incident_id: int) -> list[IncidentTask]:
    """Unchecked: for adapters that already loaded the incident through ``access_incident``."""
    rows = await session.scalars(
        select(IncidentTask)
        .where(IncidentTask.incident_id == incident_id)
        .order_by(IncidentTask.created_at, IncidentTask.id)
    )
    return list(rows)


async def task_by_id(session: AsyncSession, task_id: int) -> IncidentTask | None:
    """Unchecked, for the notice job."""
    return await session.get(IncidentTask, task_id)


@dataclass(frozen=True)
class SweepResult:
    due_soon: int
    overdue: int


async def sweep_due_tasks(
    session: AsyncSession, *, now: datetime, soon: timedelta = DUE_SOON, limit: int = SWEEP_BATCH
) -> SweepResult:
    """Queue the due-soon and overdue notices of open tasks, once per due time."""
    open_statuses = [str(status) for status in OPEN_TASK_STATUSES]
    overdue = list(
        await session.scalars(
            select(IncidentTask)
            .where(
                IncidentTask.status.in_(open_statuses),
                IncidentTask.due_at.is_not(None),
                IncidentTask.due_at < now,
                IncidentTask.overdue_sent_at.is_(None),
            )
            .order_by(IncidentTask.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for task in overdue:
        task.overdue_sent_at = now
        task.due_soon_sent_at = task.due_soon_sent_at or now
        assert task.due_at is not None
        await queue_notice(
            session,
            item="task",
            item_id=task.id,
            event="overdue",
            now=now,
            key=task.due_at.isoformat(),
        )
    soon_rows = list(
        await session.scalars(
            select(IncidentTask)
            .where(
                IncidentTask.status.in_(open_statuses),
                IncidentTask.due_at.is_not(None),
                IncidentTask.due_at >= now,
                IncidentTask.due_at <= now + soon,
                IncidentTask.due_soon_sent_at.is_(None),
            )
            .order_by(IncidentTask.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for task in soon_rows:
        task.due_soon_sent_at = now
        assert task.due_at is not None
        await queue_notice(
            session,
            item="task",
            item_id=task.id,
            event="due_soon",
            now=now,
            key=task.due_at.isoformat(),
        )
    await session.flush()
    return SweepResult(due_soon=len(soon_rows), overdue=len(overdue))
