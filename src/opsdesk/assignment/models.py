"""Tables: workgroups and members, technicians and absences, shifts, assignment rules."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class Workgroup(Base):
    __tablename__ = "workgroups"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    # How a person is chosen when the group is the target (rules.Strategy).
    strategy: Mapped[str] = mapped_column(String(16))
    max_open_per_member: Mapped[int | None] = mapped_column(Integer)
    # Round-robin turns taken so far (SQLite; PostgreSQL draws them from a sequence per
    # group so that concurrent creates never wait for each other, see service.next_turn).
    turns: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # A work-order workgroup: does on-site or technical work orders (collaboration/).
    does_work_orders: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkgroupMember(Base):
    __tablename__ = "workgroup_members"

    workgroup_key: Mapped[str] = mapped_column(ForeignKey("workgroups.key"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class Technician(Base):
    """A staff member's assignment profile; staff without a row are available, unlimited."""

    __tablename__ = "technicians"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_open: Mapped[int | None] = mapped_column(Integer)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Absence(Base):
    """A time range in which a technician is away and is skipped by every assigner."""

    __tablename__ = "technician_absences"
    __table_args__ = (Index("ix_technician_absences_user_end", "user_id", "ends_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShiftScene(Base):
    """COC's shift scenario: a time zone and a set of roles."""

    __tablename__ = "shift_scenes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str] = mapped_column(String(64))
    # COC's shift type: fixed working hours or rotating; set at creation only.
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShiftRole(Base):
    __tablename__ = "shift_roles"
    __table_args__ = (UniqueConstraint("scene_key", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    scene_key: Mapped[str] = mapped_column(ForeignKey("shift_scenes.key"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShiftRotation(Base):
    """One layer of a role's schedule (see rotation.py for the meaning of each column)."""

    __tablename__ = "shift_rotations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("shift_roles.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    members: Mapped[list[str]] = mapped_column(JSON, default=list)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    handoff: Mapped[time] = mapped_column(Time)
    turn_days: Mapped[int] = mapped_column(Integer)
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShiftOverride(Base):
    __tablename__ = "shift_overrides"
    __table_args__ = (Index("ix_shift_overrides_role_end", "role_id", "ends_at", "starts_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("shift_roles.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssignmentRule(Base):
    __tablename__ = "assignment_rules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    on_create: Mapped[bool] = mapped_column(Boolean, default=True)
    on_reopen: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    required_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_type: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(16))
    target_workgroup: Mapped[str | None] = mapped_column(ForeignKey("workgroups.key"))
    target_scene: Mapped[str | None] = mapped_column(String(64))
    target_role: Mapped[str | None] = mapped_column(String(64))
    target_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
