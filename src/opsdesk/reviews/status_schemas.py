"""Pydantic I/O of status updates, audiences, message templates and status components."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from opsdesk.core.bounds import RowId
from opsdesk.reviews.status_rules import AudienceKind, ComponentState, UpdateState


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StatusUpdateCreate(Strict):
    incident: str = Field(min_length=1, max_length=50, description="the incident's number")
    state: UpdateState
    # The title shown publicly and in the mails; required on the first update.
    title: str | None = Field(default=None, min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=10_000)
    audience_ids: list[RowId] = Field(default_factory=list, max_length=50)
    is_public: bool = True
    # The application shown as affected; default: the incident's application.
    application: str | None = Field(default=None, min_length=1, max_length=64)


class StatusUpdateOut(Out):
    id: int
    incident: str
    public_id: str
    state: UpdateState
    title: str
    message: str
    is_public: bool
    audience_ids: list[int]
    recipient_count: int
    posted_by: str
    posted_at: datetime


class AudienceIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    kind: AudienceKind
    application: str | None = Field(default=None, min_length=1, max_length=64)
    emails: list[str] = Field(default_factory=list, max_length=500)
    user_ids: list[str] = Field(default_factory=list, max_length=500)
    active: bool = True


class AudienceOut(Out):
    id: int
    name: str
    kind: AudienceKind
    application: str | None
    emails: list[str]
    user_ids: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class StatusTemplateIn(Strict):
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    message: str = Field(min_length=1, max_length=10_000)


class StatusTemplateOut(BaseModel):
    state: UpdateState
    subject: str
    body: str
    message: str
    customized: bool


class ComponentIn(Strict):
    public: bool = True
    display_name: str = Field(default="", max_length=200)
    override: ComponentState | None = None
    sort_order: int = Field(default=100, ge=-1_000_000, le=1_000_000)


class ComponentOut(BaseModel):
    application: str
    name: str
    public: bool
    display_name: str
    override: ComponentState | None
    sort_order: int
    state: ComponentState


class StatusUpdatePage(BaseModel):
    items: list[StatusUpdateOut]
    total: int
    page: int
    per_page: int
