"""Pydantic I/O of the SLA API: calendars, policies, holiday imports, an incident's clocks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field

from opsdesk.core.bounds import FIRST_YEAR, LAST_YEAR, Day
from opsdesk.sla.policies import DEFAULT_ESCALATIONS, DEFAULT_PAUSE_PHASES

_STRICT = ConfigDict(extra="forbid")


class SpanIn(BaseModel):
    model_config = _STRICT

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: str = Field(description="Local time HH:MM", examples=["09:00"])
    end: str = Field(description="Local time HH:MM, or 24:00", examples=["18:00"])


class CalendarIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    time_zone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris")
    hours: list[SpanIn] = Field(default_factory=list)
    holidays: dict[Day, str] = Field(default_factory=dict)
    always_open: bool = False


class CalendarOut(BaseModel):
    key: str
    name: str
    time_zone: str
    hours: list[SpanIn]
    holidays: dict[str, str]
    always_open: bool
    updated_at: datetime


class HolidayImport(BaseModel):
    model_config = _STRICT

    country: str = Field(min_length=2, max_length=3, description="ISO 3166 code, e.g. FR")
    years: list[Annotated[int, Interval(ge=FIRST_YEAR, le=LAST_YEAR)]] = Field(
        min_length=1, max_length=50
    )
    subdivision: str | None = None


class ActionIn(BaseModel):
    model_config = _STRICT

    kind: str = Field(
        description="notify_assignee, notify_group, notify_manager, reassign, raise_level"
    )
    workgroup: str | None = Field(default=None, description="reassign only: the target group")


class ThresholdIn(BaseModel):
    model_config = _STRICT

    percent: float
    actions: list[ActionIn] = Field(default_factory=list)


def _default_thresholds() -> list[ThresholdIn]:
    return [
        ThresholdIn(
            percent=t.percent,
            actions=[ActionIn(kind=str(a.kind), workgroup=a.workgroup) for a in t.actions],
        )
        for t in DEFAULT_ESCALATIONS
    ]


class PolicyIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=200)
    order: int = Field(ge=0, le=1_000_000)
    calendar: str
    response_s: float | None = Field(default=None, description="Time to accept, business s")
    resolution_s: float | None = Field(default=None, description="Time to resolve, business s")
    levels: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    applications: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)
    pause_phases: list[str] = Field(default_factory=lambda: sorted(DEFAULT_PAUSE_PHASES))
    thresholds: list[ThresholdIn] = Field(default_factory=_default_thresholds)
    active: bool = True


class PolicyOut(BaseModel):
    key: str
    name: str
    order: int
    calendar: str
    response_s: float | None
    resolution_s: float | None
    levels: list[str]
    categories: list[str]
    applications: list[str]
    regions: list[str]
    organisations: list[str]
    pause_phases: list[str]
    thresholds: list[ThresholdIn]
    active: bool
    updated_at: datetime


class ReorderIn(BaseModel):
    model_config = _STRICT

    keys: list[str] = Field(min_length=1, description="Policy keys, first tried first")


class SlaOut(BaseModel):
    """One target's clock of an incident (business seconds on the policy's calendar)."""

    target: str = Field(description="response (until accepted) or resolution (until resolved)")
    policy: str
    calendar: str
    state: str = Field(description="running, paused or stopped")
    due_at: datetime | None
    elapsed_s: float
    remaining_s: float
    paused_s: float
    percent: float
    breached: bool
    breached_at: datetime | None
