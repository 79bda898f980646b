"""Tables: knowledge articles (the current version; earlier versions and feedback live beside)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime


class Article(Base):
    """A known issue and its fix. ``workaround`` is what "apply this article" posts as a reply.

    ``status``: draft → in_review → published → retired. ``visibility``: ``staff`` (console
    only) or ``public`` (also end users in the portal and the suggestions they get).
    """

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    # Symptoms and background: what the reader recognises their problem by.
    body: Mapped[str] = mapped_column(Text, default="")
    workaround: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="staff")
    category: Mapped[str | None] = mapped_column(ForeignKey("categories.key"), index=True)
    application: Mapped[str | None] = mapped_column(ForeignKey("applications.key"), index=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    helped_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_helped_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    applied_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deflected_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
