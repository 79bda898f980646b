"""Request and response shapes of the suggestions API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from opsdesk.core.bounds import RowId
from opsdesk.knowledge.text_terms import MAX_TEXT


class SignalsOut(BaseModel):
    """What the score is made of, each from 0 to 1 (``semantic``: with the ai extra)."""

    lexical: float
    coverage: float
    recency: float
    semantic: float | None


class SuggestionOut(BaseModel):
    kind: Literal["article", "incident"]
    id: int = Field(description="The article's id or the incident's id")
    number: str | None = Field(description="The incident's number (incidents only)")
    title: str
    score: float = Field(description="0 to 1, higher is closer")
    matched: list[str] = Field(description="The words of the text that this item contains")
    passage: str = Field(description="The sentence of the item that holds most of them")
    status: str | None = Field(description="The incident's status (incidents only)")
    workaround: str | None = Field(description="The article's workaround (articles only)")
    url: str
    signals: SignalsOut


class SuggestionsOut(BaseModel):
    engine: Literal["lexical", "lexical+embeddings"]
    terms: list[str] = Field(description="The words of the text that were searched for")
    items: list[SuggestionOut]


class DeflectionCreate(BaseModel):
    article_id: RowId
    text: str = Field(default="", max_length=MAX_TEXT)


class DeflectionOut(BaseModel):
    id: int
    article_id: int
    deflected_count: int
    created_at: datetime
