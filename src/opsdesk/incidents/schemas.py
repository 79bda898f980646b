"""Pydantic shapes of incidents and history rows at the native API boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from opsdesk.core.bounds import AwareMoment, RowId
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
from opsdesk.incidents.lifecycle import Action

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
    fault_occurred_at: AwareMoment | None = None
    service_interrupted: bool = False
    owner_type: OwnerType | None = None
    assignee_id: UserId | None = None
    assignee_scene: ShiftId | None = None
    assignee_role: ShiftId | None = None
    workgroup: RefKey | None = Field(default=None, description="Workgroup that holds it")
    source: Source | None = None
    channel: Channel | None = None
    reporter_id: UserId | None = None
    major: bool = False

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
    fault_occurred_at: AwareMoment | None = None
    service_interrupted: bool | None = None
    owner_type: OwnerType | None = None
    assignee_id: UserId | None = None
    assignee_scene: ShiftId | None = None
    assignee_role: ShiftId | None = None
    workgroup: RefKey | None = None
    reporter_id: UserId | None = None
    major: bool | None = None
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
    phase: str = Field(description="Status refined by its workflow node (lifecycle.Phase)")
    phase_label: str
    sub_status: str | None
    pause_reason: str | None
    pause_until: datetime | None
    requested_level: str | None
    reopen_count: int
    last_reopened_at: datetime | None
    last_reopened_by: str | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    completed_at: datetime | None
    cause: str | None
    solution: str | None
    fault_recovery_at: datetime | None
    major: bool
    workgroup: str | None
    assignment_rule_id: int | None
    forward_rule_id: int | None = Field(
        default=None, description="The alert conversion rule that opened it (alerts only)"
    )
    assignment_note: str | None = Field(description="Who or which rule put it where it is")
    level_explicit: bool = Field(description="Level chosen by staff, not by the matrix")
    parent: str | None = Field(
        default=None, description="The parent incident's number (if the caller may see it)"
    )
    merged_into: str | None = Field(
        default=None, description="Number of the incident this one was merged into, if merged"
    )


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    page: int
    per_page: int


class FieldChangeOut(BaseModel):
    field: str
    old: str | int | float | bool | None
    new: str | int | float | bool | None


class EnumDataOut(BaseModel):
    """A changed enumerated field's new value with its names (COC's enum_data_list)."""

    prop_id: str
    biz_id: str
    name_en: str
    name_zh: str


class HistoryOut(BaseModel):
    id: int
    action: str
    action_name_en: str
    action_name_zh: str
    operator_id: str | None
    status: str
    start_time: datetime
    stop_time: datetime | None
    start_time_ms: int
    stop_time_ms: int | None
    comment: str
    internal: bool
    changes: list[FieldChangeOut]
    enum_data_list: list[EnumDataOut]


# --- Lifecycle actions: the parameters each one takes (COC's names in comments). ---

Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class ActionParams(BaseModel):
    """Base of every action's parameters: unknown names are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class AcceptParams(ActionParams):
    comment: Comment = ""


class RejectParams(ActionParams):
    reason: Reason = Field(description="Why the incident is rejected (virtual_confirm_comment)")


class ForwardParams(ActionParams):
    """A new owner: a person, a shift (scene + role) or a workgroup (with or without one of
    its members); the comment says why."""

    workgroup: RefKey | None = Field(default=None, description="Workgroup to hand it to")
    assignee_id: UserId | None = Field(default=None, description="virtual_send_assignee")
    assignee_scene: ShiftId | None = Field(default=None, description="virtual_schedule_type")
    assignee_role: ShiftId | None = Field(default=None, description="virtual_schedule_role")
    comment: Reason = Field(description="virtual_send_comment")


class RemarkParams(ActionParams):
    note: LongText


class PauseParams(ActionParams):
    reason: Reason = Field(description="pause_reason")
    until: AwareMoment = Field(description="Planned end of the pause (pause_end_time)")


class ApproveParams(ActionParams):
    comment: Comment = ""


class DenyParams(ActionParams):
    comment: Comment = ""


class ResumeParams(ActionParams):
    comment: Comment = ""


class ChangeLevelParams(ActionParams):
    level: str = Field(description="P1-P5 or level_10-level_50 (virtual_target_level)")
    comment: Reason = Field(description="virtual_change_level_comment")

    _check_level = field_validator("level", mode="before")(_level)


class ResolveParams(ActionParams):
    """Commit the solution (COC commitSolution)."""

    cause: LongText
    solution: LongText
    category: RefKey | None = Field(default=None, description="mtm_type; required if unset")
    service_interrupted: bool | None = Field(default=None, description="is_service_interrupt")
    fault_occurred_at: AwareMoment | None = Field(default=None, description="start_time")
    fault_recovery_at: AwareMoment | None = Field(
        default=None,
        # The incident answers with fault_recovery_at; the first API took fault_recovery_time.
        validation_alias=AliasChoices("fault_recovery_at", "fault_recovery_time"),
        description="Required when the service was interrupted (also fault_recovery_time)",
    )
    attachment_ids: list[RowId] = Field(
        default_factory=list, max_length=10, description="Uploaded attachments to keep with it"
    )
    override_open_work: bool = Field(
        default=False,
        description="Resolve although tasks or work orders are still open (recorded)",
    )


class ConfirmParams(ActionParams):
    accepted: bool = Field(description="true: resolved; false: send back (virtual_confirm_result)")
    comment: Comment = Field(default="", description="Required when refusing")


class ReopenParams(ActionParams):
    reason: Reason
    resubmission: IncidentUpdate | None = Field(
        default=None,
        description="A rejected incident only: the corrected fields it is resubmitted with",
    )


class CloseParams(ActionParams):
    comment: Comment = ""


class WithdrawParams(ActionParams):
    comment: Comment = ""


class AutoCompleteParams(ActionParams):
    comment: Comment = ""


ACTION_PARAMS: dict[Action, type[ActionParams]] = {
    Action.ACCEPT: AcceptParams,
    Action.REJECT: RejectParams,
    Action.FORWARD: ForwardParams,
    Action.REMARK: RemarkParams,
    Action.PAUSE: PauseParams,
    Action.APPROVE: ApproveParams,
    Action.DENY: DenyParams,
    Action.RESUME: ResumeParams,
    Action.CHANGE_LEVEL: ChangeLevelParams,
    Action.RESOLVE: ResolveParams,
    Action.CONFIRM: ConfirmParams,
    Action.REOPEN: ReopenParams,
    Action.CLOSE: CloseParams,
    Action.WITHDRAW: WithdrawParams,
    Action.AUTO_COMPLETE: AutoCompleteParams,
}


class ActionOut(BaseModel):
    action: str
    name_en: str
    name_zh: str
    params_schema: dict[str, Any]


class ActionsOut(BaseModel):
    number: str
    status: str
    phase: str
    phase_label: str
    version: int
    actions: list[ActionOut]


class MatrixCellIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impact: ScaleValue
    urgency: ScaleValue
    level: str = Field(description="P1-P5 or level_10-level_50")

    _check_level = field_validator("level", mode="before")(_level)


class MatrixIn(BaseModel):
    """The whole 3 x 3 grid (impact and urgency 1 = high … 3 = low)."""

    model_config = ConfigDict(extra="forbid")

    cells: Annotated[list[MatrixCellIn], Field(min_length=1, max_length=9)]


class MatrixCellOut(BaseModel):
    impact: int
    urgency: int
    level: str
    level_label: str


class MatrixOut(BaseModel):
    impacts: dict[int, str]
    urgencies: dict[int, str]
    cells: list[MatrixCellOut]
