"""Suggestion routes under ``/api/v1/suggestions``: ranked articles and similar incidents for
a text, and "this solved it" (a deflection). Translation only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from opsdesk.api.deps import DB, ClockDep, CurrentCaller
from opsdesk.knowledge import deflections, suggest
from opsdesk.knowledge.embeddings import embedder_for
from opsdesk.knowledge.suggest_schemas import (
    DeflectionCreate,
    DeflectionOut,
    SignalsOut,
    SuggestionOut,
    SuggestionsOut,
)
from opsdesk.knowledge.text_terms import MAX_TEXT, query_terms

router = APIRouter(prefix="/api/v1/suggestions", tags=["suggestions"])


def suggestion_out(item: suggest.Suggestion) -> SuggestionOut:
    return SuggestionOut(
        kind="article" if item.kind == "article" else "incident",
        id=item.id,
        number=item.number,
        title=item.title,
        score=item.score,
        matched=item.matched,
        passage=item.passage,
        status=item.status,
        workaround=item.workaround,
        url=suggest.url_of(item),
        signals=SignalsOut(
            lexical=round(item.signals.lexical, 3),
            coverage=round(item.signals.coverage, 3),
            recency=round(item.signals.recency, 3),
            semantic=None if item.signals.semantic is None else round(item.signals.semantic, 3),
        ),
    )


@router.get("", response_model=SuggestionsOut)
async def suggestions(
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    text: Annotated[str, Query(min_length=1, max_length=MAX_TEXT)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    kinds: Annotated[str, Query(max_length=40)] = "article,incident",
    typing: Annotated[bool, Query(description="The last word may be unfinished")] = False,
) -> SuggestionsOut:
    """Published articles and similar open or recently resolved incidents for ``text``, best
    first, each with the words that matched, a passage and its score. End users get public
    articles and their own incidents only."""
    wanted = suggest.parse_kinds(kinds)
    embedder = embedder_for(request.app.state.settings.suggest_embeddings)
    async with db.read() as session:
        items = await suggest.suggest(
            session=session,
            caller=caller,
            text_=text,
            now=clock.now(),
            kinds=wanted,
            limit=limit,
            embedder=embedder,
            prefix_last=typing,
        )
    return SuggestionsOut(
        engine="lexical" if embedder is None else "lexical+embeddings",
        terms=query_terms(text),
        items=[suggestion_out(item) for item in items],
    )


@router.post("/deflect", status_code=201, response_model=DeflectionOut)
async def deflect(
    body: DeflectionCreate, caller: CurrentCaller, db: DB, clock: ClockDep
) -> DeflectionOut:
    """The portal's 'this solved it': the article ended the report, no incident is created.
    Records the deflection and counts it on the article in one transaction."""
    async with db.write() as session:
        view = await deflections.deflect(
            session=session,
            caller=caller,
            article_id=body.article_id,
            text=body.text,
            now=clock.now(),
        )
    return DeflectionOut(
        id=view.id,
        article_id=view.article_id,
        deflected_count=view.deflected_count,
        created_at=view.created_at,
    )
