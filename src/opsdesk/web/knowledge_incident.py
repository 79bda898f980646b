"""The incident page's knowledge forms: draft an article from the solution, and apply an
article (its workaround posted as a reply). The paths are stable: the suggestion panel
posts to ``/incidents/{number}/articles/{article_id}/apply``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.core.bounds import RowId
from opsdesk.core.errors import OpsdeskError, ValidationFailed
from opsdesk.knowledge import articles, usage
from opsdesk.web.common import _clock, _db, _done, _posted, _text
from opsdesk.web.incident_page import refused

router = APIRouter(include_in_schema=False)


@router.post("/incidents/{number}/article")
async def draft_from_incident(request: Request, number: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        async with _db(request).write() as session:
            article, _incident = await articles.create_from_incident(
                session=session, caller=caller, number=number, now=_clock(request).now()
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, "kb-draft", form, exc)
    return _done(
        request,
        f"/knowledge/{article.id}/edit",
        f"Draft article #{article.id} created from {number}; check it and submit it for review.",
    )


async def _apply(request: Request, number: str, article_id: int | None) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        if article_id is None:
            raw = _text(form, "article_id").strip().lstrip("#")
            if not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
                raise ValidationFailed("article_id: choose an article", field="article_id")
            article_id = int(raw)
        async with _db(request).write() as session:
            applied = await usage.apply_article(
                session=session,
                caller=caller,
                number=number,
                article_id=article_id,
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, "kb-apply", form, exc)
    return _done(
        request,
        f"/incidents/{applied.number}#knowledge",
        f"Article #{applied.article.id} applied: its workaround was sent to the requester.",
    )


@router.post("/incidents/{number}/articles/apply")
async def apply_picked_article(request: Request, number: str) -> Response:
    """The incident page's picker: the article comes in the form field ``article_id``."""
    return await _apply(request, number, None)


@router.post("/incidents/{number}/articles/{article_id}/apply")
async def apply_article(request: Request, number: str, article_id: RowId) -> Response:
    """Apply one article (the suggestion panel's buttons post here)."""
    return await _apply(request, number, article_id)
