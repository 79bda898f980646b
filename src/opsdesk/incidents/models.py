"""Tables: incidents, their append-only history, attachments and the priority matrix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # Open incidents per person: the least-loaded assigner counts these.
        Index("ix_incidents_assignee_status", "assignee_id", "status"),
        # A region's list newest first, and its exact total, from the index alone.
        Index("ix_incidents_region_created", "region", "created_at", "level", "urgency", "status"),
        # A group's queue and its unassigned count, from the index alone (desk queues).
        Index("ix_incidents_workgroup_status", "workgroup", "status", "assignee_id", "created_at"),
    )

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
    # Lifecycle (see lifecycle.py): the workflow node inside ACKNOWLEDGED, and its data.
    sub_status: Mapped[str | None] = mapped_column(String(32))
    pause_reason: Mapped[str | None] = mapped_column(Text)
    pause_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_level: Mapped[str | None] = mapped_column(String(64))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reopened_by: Mapped[str | None] = mapped_column(String(32))
    # When the incident last entered each state; the history keeps every instance.
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cause: Mapped[str | None] = mapped_column(Text)
    solution: Mapped[str | None] = mapped_column(Text)
    fault_recovery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Major incidents are never auto-completed.
    major: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Assignment: the group that holds it, and why it is where it is (see assignment/).
    workgroup: Mapped[str | None] = mapped_column(ForeignKey("workgroups.key"), index=True)
    assignment_rule_id: Mapped[int | None] = mapped_column(BigInteger)
    assignment_note: Mapped[str | None] = mapped_column(String(300))
    # True once staff chose the level themselves: the matrix no longer recomputes it.
    level_explicit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Merged into another incident (relations/merging.py): read-only, and every write for it
    # lands on that primary (see service.access_incident).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Parent/child: resolving a parent resolves its open children (endings.resolve).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # Kept by collaboration/ in the transaction of each task or work-order change, so the
    # resolve action can ask for an override without reading tables above its layer.
    open_tasks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    open_work_orders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The alert conversion rule that opened it (COC's ``forward_rule_id``); None otherwise.
    forward_rule_id: Mapped[int | None] = mapped_column(BigInteger)


class PriorityCell(Base):
    """One cell of the admin-editable priority matrix: impact x urgency -> level."""

    __tablename__ = "priority_matrix"

    impact: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    urgency: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    level: Mapped[str] = mapped_column(ForeignKey("levels.key"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    # Internal rows (internal notes, work logs) are never shown to end users.
    internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Attachment(Base):
    """A file attached to an incident: content stored once by SHA-256, name kept as given."""

    __tablename__ = "incident_attachments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    uploader_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Where it was added: the incident itself, a conversation entry, or the solution.
    context: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    # A file of a work order (collaboration/work_orders.py): the incident's, shown there.
    work_order_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Attachments of internal notes are for staff only.
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PendingUpload(Base):
    """A file uploaded before the incident it belongs to (COC's upload-then-refer flow).

    The id is the ``doc_id`` COC clients send back on create or commitSolution; claiming
    it turns it into an ``Attachment`` of that incident, once.
    """

    __tablename__ = "pending_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uploader_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attachment_id: Mapped[int | None] = mapped_column(BigInteger)
