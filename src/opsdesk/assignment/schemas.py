"""Pydantic I/O for workgroups, technicians, shifts and assignment rules."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.assignment.rules import Strategy, TargetType
from opsdesk.core.bounds import Day, Moment

Key = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("lists each value once")
    return values


UniqueWords = Annotated[list[Word], AfterValidator(_unique), Field(max_length=50)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Workgroups ------------------------------------------------------------------------------


class WorkgroupCreate(Strict):
    key: Key
    name: Name
    description: str = Field(default="", max_length=2000)
    skills: UniqueWords = []
    strategy: Strategy = Strategy.ROUND_ROBIN
    max_open_per_member: int | None = Field(default=None, ge=1, le=10_000)
    members: Annotated[list[UserId], AfterValidator(_unique), Field(max_length=500)] = []
    does_work_orders: bool = Field(
        default=False, description="A work-order workgroup: does on-site or technical work"
    )


class WorkgroupUpdate(Strict):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    skills: UniqueWords | None = None
    strategy: Strategy | None = None
    max_open_per_member: int | None = Field(default=None, ge=1, le=10_000)
    enabled: bool | None = None
    does_work_orders: bool | None = None


class MembersIn(Strict):
    """The whole ordered member list; round-robin follows this order."""

    members: Annotated[list[UserId], AfterValidator(_unique), Field(max_length=500)]


class WorkgroupOut(Out):
    key: str
    name: str
    description: str
    skills: list[str]
    strategy: str
    max_open_per_member: int | None
    enabled: bool
    members: list[str]
    does_work_orders: bool = False


# Technicians -----------------------------------------------------------------------------


class TechnicianUpdate(Strict):
    skills: UniqueWords | None = None
    max_open: int | None = Field(default=None, ge=1, le=10_000)
    available: bool | None = None


class TechnicianOut(Out):
    user_id: str
    name: str
    email: str
    role: str
    skills: list[str]
    max_open: int | None
    available: bool
    away: bool
    workgroups: list[str]


class AbsenceCreate(Strict):
    starts_at: Moment
    ends_at: Moment
    reason: str = Field(default="", max_length=200)


class AbsenceOut(Out):
    id: int
    user_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str


# Shifts ----------------------------------------------------------------------------------


class SceneCreate(Strict):
    key: Key
    name: Name
    description: str = Field(default="", max_length=2000)
    time_zone: str = Field(default="UTC", max_length=64)
    kind: str = Field(default="rotating", pattern="^(fixed|rotating)$")


class SceneUpdate(Strict):
    """Type is fixed at creation (as in COC); name, description and time zone may change."""

    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    time_zone: str | None = Field(default=None, max_length=64)


class RoleCreate(Strict):
    key: Key
    name: Name


class RoleOut(Out):
    key: str
    name: str


class SceneOut(Out):
    key: str
    name: str
    description: str
    time_zone: str
    kind: str
    roles: list[RoleOut]


def _weekdays(values: list[int]) -> list[int]:
    if not values:
        raise ValueError("name at least one weekday (1 = Monday … 7 = Sunday)")
    return sorted(set(values))


class RotationCreate(Strict):
    name: Name
    members: Annotated[list[UserId], Field(min_length=1, max_length=500)]
    start_date: Day
    end_date: Day | None = None
    handoff: time = time(9, 0)
    turn_days: int = Field(default=7, ge=1, le=366)
    priority: int = Field(default=100, ge=0, le=10_000)
    weekdays: Annotated[
        list[Annotated[int, Field(ge=1, le=7)]], AfterValidator(_weekdays), Field(max_length=7)
    ] = [1, 2, 3, 4, 5, 6, 7]
    window_start: time | None = None
    window_end: time | None = None


class RotationUpdate(Strict):
    name: Name | None = None
    members: Annotated[list[UserId], Field(min_length=1, max_length=500)] | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    handoff: time | None = None
    turn_days: int | None = Field(default=None, ge=1, le=366)
    priority: int | None = Field(default=None, ge=0, le=10_000)
    weekdays: (
        Annotated[
            list[Annotated[int, Field(ge=1, le=7)]],
            AfterValidator(_weekdays),
            Field(max_length=7),
        ]
        | None
    ) = None
    window_start: time | None = None
    window_end: time | None = None


class RotationOut(Out):
    id: int
    name: str
    members: list[str]
    start_date: date
    end_date: date | None
    handoff: time
    turn_days: int
    priority: int
    weekdays: list[int]
    window_start: time | None
    window_end: time | None


class OverrideCreate(Strict):
    user_id: UserId
    starts_at: Moment
    ends_at: Moment
    reason: str = Field(default="", max_length=200)


class OverrideOut(Out):
    id: int
    user_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str | None


class OnDutyOut(BaseModel):
    scene: str
    role: str
    at: datetime
    user_id: str | None
    reason: str
    override_id: int | None
    rotation_id: int | None
    turn_starts_at: datetime | None
    turn_ends_at: datetime | None
    fallbacks: list[str]


# Assignment rules ------------------------------------------------------------------------


class ConditionsIn(Strict):
    categories: UniqueWords = []
    applications: UniqueWords = []
    levels: UniqueWords = []
    regions: UniqueWords = []
    sources: UniqueWords = []
    keywords: Annotated[
        list[
            Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
        ],
        Field(max_length=50),
    ] = []


class RuleCreate(Strict):
    name: Name
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    enabled: bool = True
    on_create: bool = True
    on_reopen: bool = True
    conditions: ConditionsIn = ConditionsIn()
    required_skills: UniqueWords = []
    target_type: TargetType
    strategy: Strategy | None = None
    target_workgroup: Key | None = None
    target_scene: Key | None = None
    target_role: Key | None = None
    target_user_id: UserId | None = None


class RuleUpdate(Strict):
    name: Name | None = None
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    enabled: bool | None = None
    on_create: bool | None = None
    on_reopen: bool | None = None
    conditions: ConditionsIn | None = None
    required_skills: UniqueWords | None = None
    target_type: TargetType | None = None
    strategy: Strategy | None = None
    target_workgroup: Key | None = None
    target_scene: Key | None = None
    target_role: Key | None = None
    target_user_id: UserId | None = None


class RuleOut(Out):
    id: int
    name: str
    position: int
    enabled: bool
    on_create: bool
    on_reopen: bool
    conditions: dict[str, list[str]]
    required_skills: list[str]
    target_type: str
    strategy: str
    target_workgroup: str | None
    target_scene: str | None
    target_role: str | None
    target_user_id: str | None


class RuleTestIn(Strict):
    """Facts of an imagined incident: which rule would take it, and who would get it."""

    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    category: str | None = None
    application: str | None = None
    level: str | None = None
    region: str | None = None
    source: str | None = None
    trigger: str = Field(default="create", pattern="^(create|reopen)$")


class AssignmentOut(BaseModel):
    rule_id: int | None
    workgroup: str | None
    assignee_id: str | None
    assignee_scene: str | None
    assignee_role: str | None
    note: str
