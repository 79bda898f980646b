"""Pydantic shapes of knowledge articles, their versions, events, files and votes at the API
boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from opsdesk.core.bounds import RowId
from opsdesk.knowledge.article_states import ArticleStatus, ArticleStep, Visibility

TITLE_MAX = 200
TEXT_MAX = 50_000
# A workaround is posted as a reply when applied, so it fits in one.
WORKAROUND_MAX = 20_000
KEYWORD_MAX = 60
KEYWORDS_MAX = 20
NOTE_MAX = 300

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=TEXT_MAX)]
Workaround = Annotated[str, StringConstraints(strip_whitespace=True, max_length=WORKAROUND_MAX)]
Keyword = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=KEYWORD_MAX)
]
ReferenceKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]


class ArticleCreate(BaseModel):
    """A new article; it starts as a draft."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Text = Field(default="", description="Symptoms and background")
    workaround: Workaround = Field(default="", description="What 'apply' posts as a reply")
    visibility: Visibility = Visibility.STAFF
    category: ReferenceKey | None = None
    application: ReferenceKey | None = None
    keywords: list[Keyword] = Field(default_factory=list, max_length=KEYWORDS_MAX)


class ArticleUpdate(BaseModel):
    """Fields to change; each save keeps a version. ``version``, when sent, must be the
    article's current one (409 otherwise), like the ``If-Match`` header (412)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Text | None = None
    workaround: Workaround | None = None
    visibility: Visibility | None = None
    category: ReferenceKey | None = None
    application: ReferenceKey | None = None
    keywords: list[Keyword] | None = Field(default=None, max_length=KEYWORDS_MAX)
    version: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] | None = None
    note: Note = Field(default="", description="What changed, kept with the version")


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Note = ""


class FeedbackRequest(BaseModel):
    """One reader's vote; sending again changes it."""

    model_config = ConfigDict(extra="forbid")

    helped: Annotated[bool, Field(strict=True)]


class ApplyRequest(BaseModel):
    """Post a published article's workaround as a public reply on the incident."""

    model_config = ConfigDict(extra="forbid")

    article_id: RowId


class ArticleOut(BaseModel):
    """An article. For end users the staff-side facts (author, source incident, workflow
    counts) are left out."""

    id: int
    title: str
    body: str
    workaround: str
    status: ArticleStatus
    status_label: str
    visibility: Visibility
    category: str | None
    application: str | None
    keywords: list[str]
    version: int
    helped_count: int
    not_helped_count: int
    applied_count: int | None = None
    view_count: int | None = None
    author_id: str | None = None
    source_incident: str | None = Field(
        default=None, description="Number of the incident this article was written from"
    )
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    my_vote: bool | None = Field(default=None, description="The caller's own vote, if any")
    steps: list[ArticleStep] = Field(
        default_factory=list, description="The workflow steps the caller may take now"
    )


class ArticlePage(BaseModel):
    items: list[ArticleOut]
    total: int
    page: int
    per_page: int


class ArticleVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    title: str
    body: str
    workaround: str
    visibility: str
    category: str | None
    application: str | None
    keywords: list[str]
    editor_id: str
    note: str
    created_at: datetime


class ArticleEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    from_status: str | None
    to_status: str | None
    actor_id: str | None
    version: int
    comment: str
    incident: str | None = None
    created_at: datetime


class ArticleAttachmentOut(BaseModel):
    id: int
    file_name: str
    content_type: str
    size: int
    sha256: str
    uploader_id: str | None
    created_at: datetime
    download_url: str


class FeedbackOut(BaseModel):
    article_id: int
    helped: bool
    helped_count: int
    not_helped_count: int


class AppliedOut(BaseModel):
    """The reply the workaround became, and the article's counter after it."""

    incident: str
    article_id: int
    conversation_id: int
    applied_count: int
