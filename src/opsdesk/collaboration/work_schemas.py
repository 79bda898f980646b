"""Pydantic shapes of tasks, work orders and work-order logs at the API boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.collaboration.work_states import TaskStatus, WorkOrderStatus
from opsdesk.core.bounds import AwareMoment

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
LOCATION_MAX = 300
LOG_MAX = 10_000
LOG_MINUTES_MAX = 7 * 24 * 60

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_MAX)]
Location = Annotated[str, StringConstraints(strip_whitespace=True, max_length=LOCATION_MAX)]
LogBody = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LOG_MAX)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
GroupKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
LogMinutes = Annotated[int, Field(strict=True, ge=0, le=LOG_MINUTES_MAX)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskCreate(_Strict):
    """A task inside an incident, for a person (staff) or a workgroup, or both."""

    title: Title
    description: Description = ""
    assignee_id: UserId | None = Field(default=None, description="A staff member")
    workgroup: GroupKey | None = Field(default=None, description="An enabled workgroup")
    due_at: AwareMoment | None = None


class TaskUpdate(_Strict):
    """Only the fields sent change; ``null`` clears assignee, workgroup or due time."""

    title: Title | None = None
    description: Description | None = None
    assignee_id: UserId | None = None
    workgroup: GroupKey | None = None
    due_at: AwareMoment | None = None
    status: TaskStatus | None = None


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_number: str = ""
    title: str
    description: str
    status: TaskStatus
    assignee_id: str | None
    workgroup: str | None
    due_at: datetime | None
    overdue: bool = False
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class WorkOrderCreate(_Strict):
    """On-site or technical work, for a work-order workgroup."""

    title: Title
    description: Description = ""
    workgroup: GroupKey = Field(description="A workgroup with does_work_orders")
    assignee_id: UserId | None = Field(default=None, description="A member of that workgroup")
    location: Location = ""
    planned_start: AwareMoment | None = None
    planned_end: AwareMoment | None = None


class WorkOrderUpdate(_Strict):
    """Only the fields sent change; ``null`` clears assignee or planned times."""

    title: Title | None = None
    description: Description | None = None
    workgroup: GroupKey | None = None
    assignee_id: UserId | None = None
    location: Location | None = None
    planned_start: AwareMoment | None = None
    planned_end: AwareMoment | None = None
    status: WorkOrderStatus | None = None


class WorkOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_number: str = ""
    title: str
    description: str
    status: WorkOrderStatus
    workgroup: str
    assignee_id: str | None
    location: str
    planned_start: datetime | None
    planned_end: datetime | None
    overdue: bool = False
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class WorkOrderPage(BaseModel):
    items: list[WorkOrderOut]
    total: int
    page: int
    per_page: int


class WorkOrderLogCreate(_Strict):
    body: LogBody
    time_spent_minutes: LogMinutes = 0


class WorkOrderLogOut(BaseModel):
    id: int
    work_order_id: int
    author_id: str
    body: str
    time_spent_minutes: int
    created_at: datetime
