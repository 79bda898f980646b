"""Pydantic shapes of post-incident reviews at the API boundary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.core.bounds import AwareMoment
from opsdesk.reviews.pir_workflow import ReviewStatus

TITLE_MAX = 200
SECTION_MAX = 20_000
COMMENT_MAX = 4_000

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Section = Annotated[str, StringConstraints(max_length=SECTION_MAX)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=COMMENT_MAX)]
ItemText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Responsibility = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]

SECTIONS = (
    "title",
    "description",
    "client_impact",
    "resolution",
    "worked_well",
    "did_not_work",
    "recommendations",
)


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class TimeKey(StrEnum):
    FAILURE_OCCURRED = "failure_occurred"
    OPERATIONS_NOTIFIED = "operations_notified"
    OPERATIONS_ON_SITE = "operations_on_site"
    SECOND_LEVEL_ON_SITE = "second_level_on_site"
    SERVICES_RESTORED = "services_restored"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewCreate(_Strict):
    """Start a review of any incident by hand (required ones start when they resolve)."""

    incident_number: Number


class ReviewSections(_Strict):
    """Only the sections sent change."""

    title: Title | None = None
    description: Section | None = None
    client_impact: Section | None = None
    resolution: Section | None = None
    worked_well: Section | None = None
    did_not_work: Section | None = None
    recommendations: Section | None = None


class TimeEdit(_Strict):
    """A new value for one time of the summary (null: unknown) and why it changes."""

    value: AwareMoment | None
    reason: Reason


class ActionItemCreate(_Strict):
    action: ItemText
    responsibility: Responsibility = ""
    assignee_id: UserId | None = Field(default=None, description="A staff member (the task's)")
    priority: Priority = Priority.MEDIUM
    due_at: AwareMoment | None = None


class ActionItemUpdate(_Strict):
    """Only the fields sent change; ``null`` clears assignee or due time."""

    action: ItemText | None = None
    responsibility: Responsibility | None = None
    assignee_id: UserId | None = None
    priority: Priority | None = None
    due_at: AwareMoment | None = None


class StepBody(_Strict):
    """A comment for the step; required when returning the review."""

    comment: Comment = ""


class TimeEntryOut(BaseModel):
    key: str
    label: str
    value: datetime | None
    source_id: int | None
    source_action: str
    source_label: str
    edited: bool
    edited_by: str | None = None
    edited_at: datetime | None = None
    reason: str = ""
    old_value: datetime | None = None


class ActionItemOut(BaseModel):
    id: int
    position: int
    action: str
    responsibility: str
    assignee_id: str | None
    priority: str
    due_at: datetime | None
    task_id: int | None
    task_status: str | None


class ReviewHistoryOut(BaseModel):
    id: int
    action: str
    actor_id: str | None
    at: datetime
    from_status: str
    to_status: str
    comment: str


class ReviewOut(BaseModel):
    id: int
    incident_number: str
    incident_title: str
    level: str
    major: bool
    status: ReviewStatus
    status_label: str
    required: bool
    required_reason: str
    title: str
    description: str
    client_impact: str
    resolution: str
    worked_well: str
    did_not_work: str
    recommendations: str
    time_summary: list[TimeEntryOut]
    client_impact_minutes: int | None
    client_impact_duration: str
    action_items: list[ActionItemOut]
    history: list[ReviewHistoryOut]
    author_id: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    steps: list[str] = Field(description="Workflow steps the caller may take now")


class ReviewSummaryOut(BaseModel):
    id: int
    incident_number: str
    title: str
    level: str
    status: ReviewStatus
    status_label: str
    required: bool
    updated_at: datetime


class ReviewPage(BaseModel):
    items: list[ReviewSummaryOut]
    total: int
    page: int
    per_page: int
