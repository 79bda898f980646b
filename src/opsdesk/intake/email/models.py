"""Tables: every inbound mail as received (raw bytes first).

The addresses that bounce are kept by notify (``notify.models.BouncingAddress``), which
stops mailing them; a delivery report read here records them there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime

MESSAGE_ID_MAX = 250
SUBJECT_MAX = 500
ADDRESS_MAX = 254


class InboundMail(Base):
    """One received message: stored before it is acknowledged, then processed.

    ``message_id`` is the deduplication key: the Message-ID header, or ``sha256:<hex>`` of
    the bytes when the mail has none, so a mail delivered twice (an MTA retry, an IMAP
    poll that crashed before flagging) is stored once.
    """

    __tablename__ = "inbound_mails"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_MAX), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    door: Mapped[str] = mapped_column(String(16))  # smtp, imap, pipe
    envelope_from: Mapped[str] = mapped_column(String(ADDRESS_MAX), default="")
    envelope_to: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(ADDRESS_MAX), default="")
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → done, or held (rate limit) / failed (could not be parsed or processed)
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    incident_number: Mapped[str | None] = mapped_column(String(32))
    # The earlier incident a reply to a completed one was linked to.
    related_number: Mapped[str | None] = mapped_column(String(32))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("incident_conversations.id"))

    __table_args__ = (
        Index("ix_inbound_mails_status_id", "status", "id"),
        Index("ix_inbound_mails_sender_received_at", "sender", "received_at"),
    )
