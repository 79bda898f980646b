"""Tables of the suggestions: deflections (a portal report that an article ended), and the
names of the search index objects that live outside the ORM metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, BigIntPK, UTCDateTime

# Kept by the database (migration 0021): FTS5 virtual tables and their shadow tables on
# SQLite, tsvector side tables on PostgreSQL. The models-match-migrations check skips them.
SEARCH_TABLES = ("incident_search", "article_search")


def is_search_index_table(name: str | None) -> bool:
    """True for the search index tables and the FTS5 shadow tables behind them."""
    if name is None:
        return False
    return any(name == table or name.startswith(f"{table}_") for table in SEARCH_TABLES)


class Deflection(Base):
    """An end user said an article solved their problem: no incident was created."""

    __tablename__ = "deflections"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
