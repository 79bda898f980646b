"""Tables: edited mail templates, notification rules, webhook subscriptions and the addresses
our mail bounces from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class MailTemplateRow(Base):
    """An administrator's version of an event's mail; events without a row use the default
    shipped in ``notify/defaults/``, so improved defaults reach every unedited template."""

    __tablename__ = "mail_templates"

    event: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(500))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class NotificationRule(Base):
    """Who is mailed on an event; events without a row follow ``rules.DEFAULT_RULES``."""

    __tablename__ = "notification_rules"

    event: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Write-only: used to sign deliveries, never returned by the API nor logged.
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


BOUNCING_ADDRESS_MAX = 254


class BouncingAddress(Base):
    """A recipient our notifications bounced from: recorded by inbound mail when a delivery
    report comes back, read here so that no further notification is mailed to it."""

    __tablename__ = "bouncing_addresses"

    # Lower case: the inbound side stores the address as the delivery report names it, folded.
    address: Mapped[str] = mapped_column(String(BOUNCING_ADDRESS_MAX), primary_key=True)
    bounces: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[str] = mapped_column(String(200), default="")
    last_incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
