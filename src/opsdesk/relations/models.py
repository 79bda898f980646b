"""Tables: links between incidents, and merges (with what moved, so a merge can be undone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class IncidentLink(Base):
    """``source`` is ``kind`` ``target``: INC-2 duplicate_of INC-1, INC-3 caused_by INC-1.

    Parent/child is not a link row: an incident has one parent, kept in ``incidents.parent_id``.
    """

    __tablename__ = "incident_links"
    __table_args__ = (UniqueConstraint("source_id", "target_id", "kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentMerge(Base):
    """One secondary merged into one primary; ``moved`` records what the merge moved or added
    and the secondary's fields before it, which is what undoing the merge restores."""

    __tablename__ = "incident_merges"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    primary_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    secondary_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    merged_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moved: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    undone_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
