"""Request and response shapes of major incidents and war rooms (``api/major.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.reviews.major_rules import TeamRole
from opsdesk.reviews.war_room_states import WarRoomStatus

UserId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scene: Key
    role: Key


class DeclareIn(BaseModel):
    """Declare an incident major. Without ``manager_id`` the manager is whoever is on duty
    for OPSDESK_MAJOR_MANAGER_SHIFT, else the declaring incident manager, else the first
    incident manager; without technical leads, the incident's assignee."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)
    manager_id: UserId | None = None
    communications_lead_id: UserId | None = None
    technical_leads: list[UserId] = Field(default_factory=list, max_length=50)
    technical_workgroups: list[Key] = Field(default_factory=list, max_length=20)
    technical_shifts: list[ShiftIn] = Field(default_factory=list, max_length=20)


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    role: TeamRole


class MemberOut(BaseModel):
    id: int
    user_id: str
    name: str
    role: TeamRole
    role_label: str
    source: str
    paged_at: datetime | None
    acknowledged_at: datetime | None


class MajorOut(BaseModel):
    incident_number: str
    active: bool
    declared_at: datetime
    declared_by: str | None
    how: str = Field(description="manual | rule")
    rule: str | None = Field(description="level | critical_application | alert_storm")
    reason: str
    manager_id: str | None
    manager_name: str
    downgraded_at: datetime | None
    downgraded_by: str | None
    downgrade_reason: str | None
    team: list[MemberOut]
    war_room_id: int | None
    war_room_number: str | None
    war_room_status: WarRoomStatus | None
    last_update_at: datetime | None
    update_due_at: datetime | None = Field(description="When the manager is reminded next")


class WarRoomCreate(BaseModel):
    """Start a war room for an incident (declares it major if it is not yet)."""

    model_config = ConfigDict(extra="forbid")

    incident_number: str = Field(min_length=1, max_length=50)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    manager_id: UserId | None = None
    technical_workgroups: list[Key] = Field(default_factory=list, max_length=20)
    technical_shifts: list[ShiftIn] = Field(default_factory=list, max_length=20)


class WarRoomPatch(BaseModel):
    """Change the status (our key or COC's id is not accepted here: use the key), and the
    fault's cause and impact (required to close)."""

    model_config = ConfigDict(extra="forbid")

    status: WarRoomStatus | None = None
    fault_cause: str | None = Field(default=None, max_length=10_000)
    fault_impact: str | None = Field(default=None, max_length=10_000)
    note: str = Field(default="", max_length=10_000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)


class ChildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=50, description="The child incident")


class EntryOut(BaseModel):
    id: int
    kind: str = Field(description="created | status | note | member")
    author_id: str | None
    body: str
    status_from: str | None
    status_to: str | None
    created_at: datetime


class WarRoomOut(BaseModel):
    id: int
    number: str
    incident_number: str
    incident_title: str
    level: str
    title: str
    description: str
    status: WarRoomStatus
    admin_id: str | None
    regions: list[dict[str, str | None]]
    applications: list[dict[str, str | None]]
    fault_cause: str
    fault_impact: str
    created_at: datetime
    updated_at: datetime
    recovered_at: datetime | None
    closed_at: datetime | None


class WarRoomPageOut(BaseModel):
    items: list[WarRoomOut]
    total: int
    page: int
    per_page: int
