"""Task routes under ``/api/v1/incidents/{number}/tasks``: translation only; staff only."""

from __future__ import annotations

from fastapi import APIRouter

from opsdesk.api.deps import DB, ClockDep, StaffCaller
from opsdesk.collaboration import tasks
from opsdesk.collaboration.models import IncidentTask
from opsdesk.collaboration.work_schemas import TaskCreate, TaskOut, TaskUpdate
from opsdesk.core.bounds import RowId
from opsdesk.core.clock import Clock

router = APIRouter(prefix="/api/v1/incidents", tags=["tasks"])


def task_out(task: IncidentTask, number: str, clock: Clock) -> TaskOut:
    out = TaskOut.model_validate(task)
    out.incident_number = number
    out.overdue = tasks.is_overdue(task, clock.now())
    return out


@router.get("/{number}/tasks", response_model=list[TaskOut])
async def list_tasks(number: str, caller: StaffCaller, db: DB, clock: ClockDep) -> list[TaskOut]:
    """The incident's tasks, oldest first."""
    async with db.read() as session:
        rows = await tasks.list_tasks(session=session, caller=caller, number=number)
    return [task_out(row, number, clock) for row in rows]


@router.post("/{number}/tasks", status_code=201, response_model=TaskOut)
async def create_task(
    number: str, body: TaskCreate, caller: StaffCaller, db: DB, clock: ClockDep
) -> TaskOut:
    """Add an open task for a person and/or a workgroup; they are told by mail."""
    async with db.write() as session:
        task = await tasks.create_task(
            session=session, caller=caller, number=number, data=body, now=clock.now()
        )
        return task_out(task, number, clock)


@router.patch("/{number}/tasks/{task_id}", response_model=TaskOut)
async def update_task(
    number: str, task_id: RowId, body: TaskUpdate, caller: StaffCaller, db: DB, clock: ClockDep
) -> TaskOut:
    """Change fields and/or the status (open, in_progress, done, cancelled)."""
    async with db.write() as session:
        task = await tasks.update_task(
            session=session,
            caller=caller,
            number=number,
            task_id=task_id,
            data=body,
            now=clock.now(),
        )
        return task_out(task, number, clock)
