"""Tables: SLA calendars and policies (admin data) and each incident's stored clocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, UTCDateTime

KEY_MAX = 64
NAME_MAX = 200


class SlaCalendarRow(Base):
    """A business-hours calendar; ``hours`` is a list of {weekday, start, end} spans and
    ``holidays`` a {"YYYY-MM-DD": name} mapping (see ``sla.calendar``)."""

    __tablename__ = "sla_calendars"

    key: Mapped[str] = mapped_column(String(KEY_MAX), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    time_zone: Mapped[str] = mapped_column(String(64))
    hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    holidays: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    always_open: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlaPolicyRow(Base):
    """An SLA policy (see ``sla.policies``): tried by ``order``, the first match wins."""

    __tablename__ = "sla_policies"

    key: Mapped[str] = mapped_column(String(KEY_MAX), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    order: Mapped[int] = mapped_column(Integer)
    # {"levels": [...], "categories": [...], "applications": [...], "regions": [...],
    #  "organisations": [...]}; an empty or missing list matches anything.
    match: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    calendar: Mapped[str] = mapped_column(ForeignKey("sla_calendars.key"))
    response_s: Mapped[float | None] = mapped_column(Float)
    resolution_s: Mapped[float | None] = mapped_column(Float)
    pause_phases: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{"percent": 50, "actions": [{"kind": "notify_assignee", "workgroup": null}]}, ...]
    thresholds: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentSla(Base):
    """One target's clock of one incident as last computed, and what the sweep waits for.

    ``next_at`` is the instant of the next threshold not yet escalated (NULL while the clock
    is paused or stopped, or when every threshold is done); the sweep reads ``next_at <=
    now`` through its index. ``acted`` lists the threshold percents already escalated for
    the current crossing, so each crossing escalates once.
    """

    __tablename__ = "incident_sla"
    __table_args__ = (
        # A list sorted by SLA due reads each incident's running due times from the index.
        Index("ix_incident_sla_incident_state_due", "incident_id", "state", "due_at"),
        # The desk's "breached" queue and counter: the few breached clocks, not every clock.
        Index("ix_incident_sla_breached_at", "breached_at"),
    )

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id"), primary_key=True, autoincrement=False
    )
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    policy: Mapped[str] = mapped_column(String(KEY_MAX))
    calendar: Mapped[str] = mapped_column(String(KEY_MAX))
    goal_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    elapsed_s: Mapped[float] = mapped_column(Float)
    paused_s: Mapped[float] = mapped_column(Float)
    percent: Mapped[float] = mapped_column(Float)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    next_percent: Mapped[float | None] = mapped_column(Float)
    acted: Mapped[list[float]] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
