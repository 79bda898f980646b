"""Tables: one per kind of reference data, all of the same shape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.database import Base, UTCDateTime


class ReferenceItem(Base):
    """Columns shared by every kind: a stable key, names in English and Chinese, a switch."""

    __abstract__ = True

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Presets come with opsdesk (COC's keys): they can be disabled but not deleted.
    preset: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Level(ReferenceItem):
    __tablename__ = "levels"


class Category(ReferenceItem):
    __tablename__ = "categories"


class Application(ReferenceItem):
    __tablename__ = "applications"


class Region(ReferenceItem):
    __tablename__ = "regions"


class EnterpriseProject(ReferenceItem):
    __tablename__ = "enterprise_projects"
