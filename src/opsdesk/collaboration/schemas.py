"""Pydantic shapes of conversation entries, work logs, feedback and watchers at the API
boundary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.core.bounds import AwareMoment, RowId

CONVERSATION_BODY_MAX = 20_000
WORK_LOG_DESCRIPTION_MAX = 10_000
WORK_LOG_MINUTES_MAX = 7 * 24 * 60  # one entry covers at most a week of work
FEEDBACK_COMMENT_MAX = 2000
RATING_MIN, RATING_MAX = 1, 5

ConversationBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CONVERSATION_BODY_MAX)
]
WorkLogDescription = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=WORK_LOG_DESCRIPTION_MAX),
]
FeedbackComment = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=FEEDBACK_COMMENT_MAX)
]
# Strict: a rating of `true` or "4" is a client bug, not something to guess at.
Minutes = Annotated[int, Field(strict=True, ge=1, le=WORK_LOG_MINUTES_MAX)]
Rating = Annotated[int, Field(strict=True, ge=RATING_MIN, le=RATING_MAX)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class ConversationCreate(BaseModel):
    """A public reply (the reporter sees it) or, from staff, an internal note."""

    model_config = ConfigDict(extra="forbid")

    body: ConversationBody
    internal: bool = Field(default=False, description="Staff only: a note the reporter never sees")
    attachment_ids: list[RowId] = Field(
        default_factory=list,
        max_length=10,
        description="Files uploaded to the incident to show with this entry",
    )


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    body: str
    internal: bool
    author_id: str
    created_at: datetime
    attachment_ids: list[int] = Field(default_factory=list)


class WorkLogCreate(BaseModel):
    """Work done on an incident and how long it took; staff only."""

    model_config = ConfigDict(extra="forbid")

    description: WorkLogDescription
    time_spent_minutes: Minutes
    started_at: AwareMoment | None = Field(
        default=None, description="When the work began; not in the future"
    )


class WorkLogOut(BaseModel):
    id: int
    description: str
    time_spent_minutes: int
    started_at: datetime | None
    author_id: str
    created_at: datetime


class WorkLogList(BaseModel):
    items: list[WorkLogOut]
    total_minutes: int


class FeedbackSet(BaseModel):
    """The reporter's rating of a resolved incident; a new answer replaces the old one."""

    model_config = ConfigDict(extra="forbid")

    rating: Rating = Field(description="1 (poor) to 5 (excellent)")
    comment: FeedbackComment = ""


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rating: int
    comment: str
    reporter_id: str
    created_at: datetime
    updated_at: datetime


class StepOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RUNNING = "running"


# Step ids name a node of a runbook (COC's ``action_id``, e.g. "main"): a key, not prose.
StepId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")
]
StepName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
StepComment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


class AutomationStepCreate(BaseModel):
    """What an automation (runbook, contingency plan, script) reports about one of its steps."""

    model_config = ConfigDict(extra="forbid")

    step_id: StepId = Field(description="The step's key in its runbook, e.g. 'main'")
    name_en: StepName = Field(
        description="What is shown in the history, e.g. 'Contingency Plan Auto Execution Failure'"
    )
    name_zh: StepName | None = Field(default=None, description="Chinese name; English if absent")
    outcome: StepOutcome
    started_at: AwareMoment
    finished_at: AwareMoment | None = Field(
        default=None, description="Absent while the step is still running"
    )
    comment: StepComment = ""


class AutomationStepOut(BaseModel):
    history_id: int
    step_id: str
    name_en: str
    name_zh: str
    outcome: StepOutcome
    started_at: datetime
    finished_at: datetime | None
    comment: str


class WatcherAdd(BaseModel):
    """Who starts watching: the caller when ``user_id`` is left out."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId | None = None


class WatcherOut(BaseModel):
    user_id: str
    name: str
    created_at: datetime
    created_by: str


class WatcherList(BaseModel):
    """Staff see every watcher; an end user sees only whether they watch (their own row)."""

    watching: bool
    items: list[WatcherOut]
