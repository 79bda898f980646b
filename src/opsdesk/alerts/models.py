"""Tables: integrations (keys stored hashed), alerts, alert groups and conversion rules."""

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
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class Integration(Base):
    """A monitoring source with its own key; incidents it opens are reported by ``acting_user``."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Requests per second a process accepts from this integration (burst: one second's worth).
    rate_limit_per_s: Mapped[int] = mapped_column(Integer, default=1000)
    # Labels that make the group key; empty: the sender's own group (Alertmanager groupKey)
    # or, for senders without one, each alert its own group.
    group_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    group_window_s: Mapped[int] = mapped_column(Integer, default=3600)
    acting_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConversionRule(Base):
    """When a group's alerts open an incident, and with which level, category and owner."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Up to five {key, op, value}: key is a label, or severity / source / summary.
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    creates_incident: Mapped[bool] = mapped_column(Boolean, default=True)
    level: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))
    application: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[str | None] = mapped_column(String(32))
    assignee_scene: Mapped[str | None] = mapped_column(String(64))
    assignee_role: Mapped[str | None] = mapped_column(String(64))
    auto_resolve: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertGroup(Base):
    """Alerts that belong together; while open, at most one incident stands for them."""

    __tablename__ = "alert_groups"
    __table_args__ = (
        # The storm guard: one open group per key, so concurrent posts meet on one row.
        Index(
            "uq_alert_groups_open_key",
            "integration_id",
            "group_key",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    group_key: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    title: Mapped[str] = mapped_column(String(200))
    alert_count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(BigInteger)
    # Cleared by hand (COC ClearAlarm): who and why.
    cleared_by: Mapped[str | None] = mapped_column(String(32))
    clear_remarks: Mapped[str | None] = mapped_column(String(255))


class Alert(Base):
    """One alert, deduplicated by its key within an integration; repeats bump ``count``."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("integration_id", "dedup_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    dedup_key: Mapped[str] = mapped_column(String(255))
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(Text, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
