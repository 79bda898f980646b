"""Tables: incidents and their append-only history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(ForeignKey("levels.key"), index=True)
    impact: Mapped[int | None] = mapped_column(SmallInteger)
    urgency: Mapped[int | None] = mapped_column(SmallInteger)
    ownership: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(ForeignKey("categories.key"), index=True)
    region: Mapped[str | None] = mapped_column(ForeignKey("regions.key"))
    enterprise_project: Mapped[str | None] = mapped_column(ForeignKey("enterprise_projects.key"))
    application: Mapped[str | None] = mapped_column(ForeignKey("applications.key"), index=True)
    fault_occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    service_interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_type: Mapped[str | None] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    assignee_scene: Mapped[str | None] = mapped_column(String(64))
    assignee_role: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(40))
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    reporter_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Bumped by every change: optimistic concurrency for PATCH (If-Match) and actions.
    version: Mapped[int] = mapped_column(Integer, default=1)


class IncidentHistory(Base):
    """One row per create, change or action; rows are never updated or deleted.

    Database triggers (see the migration) refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "incident_history"
    __table_args__ = (Index("ix_incident_history_incident_start", "incident_id", "start_time"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    action: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(40))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    stop_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
