"""Tables of stakeholder communication and the public status page.

The public page and its feed read only ``status_components`` (with the application's name),
``status_incidents`` and ``status_updates``: everything there was written for the public by
staff, so nothing internal (notes, work logs, staff names, internal titles) can reach it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class StatusAudience(Base):
    """Who is mailed an update: internal stakeholders or affected customers, optionally of
    one application; recipients are e-mail addresses and/or users (their current address)."""

    __tablename__ = "status_audiences"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    application: Mapped[str | None] = mapped_column(ForeignKey("applications.key"), index=True)
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusTemplateRow(Base):
    """An administrator's message for one update state; states without a row use the
    default shipped in ``status_rules.DEFAULT_TEMPLATES``."""

    __tablename__ = "status_templates"

    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The public text the composer starts from; the mail body places it at ``{message}``.
    message: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class StatusComponent(Base):
    """An application as shown on the status page: shown when ``public``; its state is
    computed from its open public incidents unless staff set ``override``."""

    __tablename__ = "status_components"

    application: Mapped[str] = mapped_column(ForeignKey("applications.key"), primary_key=True)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    # The name shown publicly (the application's name when empty).
    display_name: Mapped[str] = mapped_column(String(200), default="")
    override: Mapped[str | None] = mapped_column(String(16))
    sort_order: Mapped[int] = mapped_column(Integer, default=100)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusIncident(Base):
    """An incident as communicated: its public title, the application it affects and its
    impact there, and the state of the last update. ``public`` once a public update exists."""

    __tablename__ = "status_incidents"
    __table_args__ = (Index("ix_status_incidents_public_state", "public", "state"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    # The address on the status page: random, so it says nothing about internal numbers.
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    application: Mapped[str | None] = mapped_column(ForeignKey("applications.key"), index=True)
    impact: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StatusUpdate(Base):
    """One posted update: its state, public title and text, who it was mailed to."""

    __tablename__ = "status_updates"
    __table_args__ = (Index("ix_status_updates_incident_posted", "incident_id", "posted_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    status_incident_id: Mapped[int] = mapped_column(ForeignKey("status_incidents.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    state: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    audience_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    posted_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
