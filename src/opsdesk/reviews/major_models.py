"""Tables: major-incident declarations, response teams, war rooms and their timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class MajorIncident(Base):
    """The declaration of one incident as major (the incident's ``major`` flag is its mirror).

    Downgrading keeps the row (``active`` false, who and why); declaring again reuses it."""

    __tablename__ = "major_incidents"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id"), primary_key=True, autoincrement=False
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None when a rule declared it.
    declared_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    how: Mapped[str] = mapped_column(String(16))  # manual | rule
    rule: Mapped[str | None] = mapped_column(String(32))  # major_rules.Rule
    reason: Mapped[str] = mapped_column(Text, default="")
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    downgraded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    downgraded_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    downgrade_reason: Mapped[str | None] = mapped_column(Text)
    # The update reminders: when the manager was last reminded.
    last_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TeamMember(Base):
    """One person in one role of a major incident's response team."""

    __tablename__ = "major_team_members"
    __table_args__ = (UniqueConstraint("incident_id", "user_id", "role"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))  # major_rules.TeamRole
    # Where they came from: "manual", "workgroup:<key>", "shift:<scene>/<role>", "assignee".
    source: Mapped[str] = mapped_column(String(200), default="manual")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WarRoom(Base):
    """A war room (COC's WarRoom): where a major incident is worked, with COC's statuses."""

    __tablename__ = "war_rooms"
    __table_args__ = (Index("ix_war_rooms_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # COC's war_room_num
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32))  # war_room_states.WarRoomStatus
    admin_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # {code, name}
    applications: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # {id, name}
    enterprise_project: Mapped[str | None] = mapped_column(String(64))
    # COC's create body, kept as given: schedule_group, participant, notification_*.
    schedule_groups: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notification_type: Mapped[str | None] = mapped_column(String(16))
    fault_cause: Mapped[str] = mapped_column(Text, default="")
    fault_impact: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WarRoomEntry(Base):
    """One line of a war room's timeline: created, a status change, a note, a member."""

    __tablename__ = "war_room_entries"
    __table_args__ = (Index("ix_war_room_entries_room_created", "war_room_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    war_room_id: Mapped[int] = mapped_column(ForeignKey("war_rooms.id"))
    kind: Mapped[str] = mapped_column(String(16))  # created | status | note | member
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    status_from: Mapped[str | None] = mapped_column(String(32))
    status_to: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
