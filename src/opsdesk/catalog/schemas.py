"""Pydantic shapes of reference items."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from opsdesk.core.bounds import SortOrder

ItemKey = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$"
    ),
]
ItemName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ItemNameZh = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
ItemDescription = Annotated[str, StringConstraints(max_length=1000)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: ItemKey
    name_en: ItemName
    name_zh: ItemNameZh = ""
    description: ItemDescription = ""
    enabled: bool = True
    sort_order: SortOrder = 100


class ItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_en: ItemName | None = None
    name_zh: ItemNameZh | None = None
    description: ItemDescription | None = None
    enabled: bool | None = None
    sort_order: SortOrder | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name_en: str
    name_zh: str
    description: str
    enabled: bool
    preset: bool
    sort_order: int
    created_at: datetime
    updated_at: datetime
