"""Demo data for the suggestions: one report that a published article ended ("this solved
it"), on the knowledge demo's public printer article (demo/knowledge.py writes the articles)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.knowledge import deflections
from opsdesk.knowledge.models import Article

PRINTER_ARTICLE = "Printer prints blank pages"


async def load_suggestions_demo(*, session: AsyncSession, end_user: Caller, now: datetime) -> None:
    article_id = await session.scalar(
        select(Article.id).where(
            Article.title.startswith(PRINTER_ARTICLE),
            Article.status == "published",
            Article.visibility == "public",
        )
    )
    if article_id is None:
        raise LookupError(f"the knowledge demo has no public {PRINTER_ARTICLE!r} article")
    await deflections.deflect(
        session=session,
        caller=end_user,
        article_id=article_id,
        text="The printer only gives me empty pages",
        now=now - timedelta(hours=2),
    )
