"""Tables of post-incident reviews: the review, its workflow history, its action items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class PostIncidentReview(Base):
    """The official incident report of one incident (seed 004), at most one per incident.

    ``time_summary`` holds, per key of ``reviews.time_summary.KEYS``: ``value`` (ISO time or
    null), ``source_id`` and ``source_action`` (the history row it came from), and, once a
    person edited it, ``edited`` with ``by``, ``at``, ``reason`` and ``old``.
    """

    __tablename__ = "post_incident_reviews"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    # reviews.pir_workflow.ReviewStatus
    status: Mapped[str] = mapped_column(String(16), index=True)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    required_reason: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    client_impact: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    worked_well: Mapped[str] = mapped_column(Text, default="")
    did_not_work: Mapped[str] = mapped_column(Text, default="")
    recommendations: Mapped[str] = mapped_column(Text, default="")
    time_summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewHistory(Base):
    """One workflow step or edit of a review: who, when, from/to status, comment, changes."""

    __tablename__ = "post_incident_review_history"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("post_incident_reviews.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ReviewActionItem(Base):
    """A post-incident action item, tracked as a task of the incident until done."""

    __tablename__ = "post_incident_action_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("post_incident_reviews.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(200))
    responsibility: Mapped[str] = mapped_column(String(200), default="")
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    priority: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    task_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
