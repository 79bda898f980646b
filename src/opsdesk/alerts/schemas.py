"""API shapes for integrations, conversion rules, alert groups and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from opsdesk.alerts.rules import check_conditions

Kind = Literal["alertmanager", "grafana", "pagerduty", "generic", "coc"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: Kind
    rate_limit_per_s: int = Field(default=1000, ge=0, le=1_000_000, description="0: no limit")
    group_by: list[LabelName] = Field(default_factory=list, max_length=20)
    group_window_s: int = Field(default=3600, ge=1, le=30 * 86400)


class IntegrationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    active: bool | None = None
    rate_limit_per_s: int | None = Field(default=None, ge=0, le=1_000_000)
    group_by: list[LabelName] | None = Field(default=None, max_length=20)
    group_window_s: int | None = Field(default=None, ge=1, le=30 * 86400)


class IntegrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    key_hint: str = Field(description="The first characters of the key, to tell keys apart")
    active: bool
    rate_limit_per_s: int
    group_by: list[str]
    group_window_s: int
    acting_user_id: str
    created_at: datetime


class IntegrationCreated(IntegrationOut):
    key: str = Field(description="Shown once; only its hash is stored")


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    position: int = Field(default=100, ge=0, le=100_000)
    enabled: bool = True
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    creates_incident: bool = True
    level: Key | None = None
    category: Key | None = None
    application: Key | None = None
    assignee_id: Annotated[str, StringConstraints(max_length=32)] | None = None
    assignee_scene: Key | None = None
    assignee_role: Key | None = None
    auto_resolve: bool = False

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> list[dict[str, Any]]:
        return check_conditions(value)


class RuleOut(RuleIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    integration_id: int


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dedup_key: str
    status: str
    severity: str
    summary: str
    source: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    link: str
    count: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None


class AlertGroupOut(BaseModel):
    id: int
    integration_id: int
    integration: str
    title: str
    labels: dict[str, Any]
    alert_count: int
    firing: int
    first_seen: datetime
    last_seen: datetime
    closed_at: datetime | None
    incident: str | None = Field(description="Number of the incident that stands for it")
    rule_id: int | None


class AlertGroupDetail(AlertGroupOut):
    alerts: list[AlertOut]
