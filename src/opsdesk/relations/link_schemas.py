"""Request and response shapes of incident links (the API in ``api/links.py``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from opsdesk.relations.link_rules import Direction, LinkKind


class LinkCreate(BaseModel):
    """Link this incident to ``number`` as ``kind``; ``parent`` makes ``number`` this
    incident's parent, ``child`` makes it a child. ``replace`` replaces an existing parent."""

    model_config = ConfigDict(extra="forbid")

    kind: LinkKind
    number: str = Field(min_length=1, max_length=50, description="The other incident")
    replace: bool = Field(default=False, description="Replace the child's current parent")


class LinkedIncidentOut(BaseModel):
    number: str
    title: str
    status: str
    phase: str
    phase_label: str


class LinkOut(BaseModel):
    id: int | None = Field(description="The link row; null for parent and child")
    kind: LinkKind
    direction: Direction
    label: str = Field(description='How the link reads from this incident: "Duplicated by"')
    label_zh: str
    incident: LinkedIncidentOut
    created_by: str | None
    created_at: datetime | None


class LinksOut(BaseModel):
    number: str
    links: list[LinkOut]
    parent: LinkedIncidentOut | None
    children: list[LinkedIncidentOut]
