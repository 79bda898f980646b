"""Pydantic shapes of incidents and history rows at the native API boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from opsdesk.incidents.fields import (
    DESCRIPTION_MAX,
    SHIFT_ID_MAX,
    TITLE_MAX,
    Channel,
    Ownership,
    OwnerType,
    Source,
    parse_level,
)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)]
RefKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ShiftId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SHIFT_ID_MAX)
]
UserId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
ScaleValue = Annotated[int, Field(ge=1, le=3)]


def _level(value: Any) -> Any:
    if isinstance(value, str):
        key = parse_level(value)
        if key is None:
            raise ValueError("must be one of P1-P5 or level_10-level_50")
        return key
    return value


class IncidentCreate(BaseModel):
    """What a reporter or technician sends; unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    level: str | None = Field(default=None, description="P1-P5 or level_10-level_50")
    impact: ScaleValue | None = None
    urgency: ScaleValue | None = None
    ownership: Ownership | None = None
    category: RefKey | None = None
    region: RefKey | None = None
    enterprise_project: RefKey | None = None
    application: RefKey | None = None
    fault_occurred_at: AwareDatetime | None = None
    service_interrupted: bool = False
    owner_type: OwnerType | None = None
    assignee_id: UserId | None = None
    assignee_scene: ShiftId | None = None
    assignee_role: ShiftId | None = None
    source: Source | None = None
    channel: Channel | None = None
    reporter_id: UserId | None = None

    _check_level = field_validator("level", mode="before")(_level)


class IncidentUpdate(BaseModel):
    """A partial change; only the fields present are applied, each one recorded."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    level: str | None = None
    impact: ScaleValue | None = None
    urgency: ScaleValue | None = None
    ownership: Ownership | None = None
    category: RefKey | None = None
    region: RefKey | None = None
    enterprise_project: RefKey | None = None
    application: RefKey | None = None
    fault_occurred_at: AwareDatetime | None = None
    service_interrupted: bool | None = None
    owner_type: OwnerType | None = None
    assignee_id: UserId | None = None
    assignee_scene: ShiftId | None = None
    assignee_role: ShiftId | None = None
    reporter_id: UserId | None = None
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""

    _check_level = field_validator("level", mode="before")(_level)


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    title: str
    description: str
    level: str
    level_label: str
    status: str
    status_label: str
    impact: int | None
    urgency: int | None
    ownership: str | None
    category: str | None
    region: str | None
    enterprise_project: str | None
    application: str | None
    fault_occurred_at: datetime | None
    service_interrupted: bool
    owner_type: str | None
    assignee_id: str | None
    assignee_scene: str | None
    assignee_role: str | None
    source: str
    channel: str
    creator_id: str
    reporter_id: str
    created_at: datetime
    updated_at: datetime
    version: int


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    page: int
    per_page: int


class FieldChangeOut(BaseModel):
    field: str
    old: str | int | float | bool | None
    new: str | int | float | bool | None


class HistoryOut(BaseModel):
    id: int
    action: str
    action_name_en: str
    action_name_zh: str
    operator_id: str | None
    status: str
    start_time: datetime
    stop_time: datetime | None
    comment: str
    changes: list[FieldChangeOut]
