"""Tables: conversation entries, work log entries, the reporter's feedback, watchers, tasks
and work orders with their logs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class ConversationEntry(Base):
    """A public reply (seen by the reporter, later emailed) or an internal note (staff only)."""

    __tablename__ = "incident_conversations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkLogEntry(Base):
    """Work done on an incident and the time it took; staff only."""

    __tablename__ = "incident_work_logs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    description: Mapped[str] = mapped_column(Text)
    time_spent_s: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Feedback(Base):
    """The reporter's rating of a resolved incident: one per incident, the latest answer kept."""

    __tablename__ = "incident_feedback"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    reporter_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentWatcher(Base):
    """A user who follows an incident: told about it as the notification rules say."""

    __tablename__ = "incident_watchers"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    # Indexed for "what do I watch": the primary key only serves lookups by incident.
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))


class IncidentTask(Base):
    """A piece of work inside an incident, for a person or a workgroup (often another team)."""

    __tablename__ = "incident_tasks"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # work_states.TaskStatus
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    workgroup: Mapped[str | None] = mapped_column(ForeignKey("workgroups.key"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When the due-soon and overdue notices went out for the current due time (reset when
    # the due time changes), so the sweep tells people once.
    due_soon_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkOrder(Base):
    """On-site or technical work for an incident, done by a work-order workgroup."""

    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_workgroup_status", "workgroup", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # work_states.WorkOrderStatus
    status: Mapped[str] = mapped_column(String(16))
    workgroup: Mapped[str] = mapped_column(ForeignKey("workgroups.key"))
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    location: Mapped[str] = mapped_column(String(300), default="")
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_end: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    overdue_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkOrderLog(Base):
    """What was done on a work order (on site, by the group that does it)."""

    __tablename__ = "work_order_logs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    time_spent_s: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
