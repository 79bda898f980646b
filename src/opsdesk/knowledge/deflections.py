"""Deflections: an end user's report ended by an article ("this solved it"), no incident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import NotFound
from opsdesk.knowledge.models import Article
from opsdesk.knowledge.suggest_models import Deflection
from opsdesk.knowledge.text_terms import MAX_TEXT


@dataclass(frozen=True)
class DeflectionView:
    id: int
    article_id: int
    article_title: str
    deflected_count: int
    created_at: datetime


async def suggestible_article(session: AsyncSession, caller: Caller, article_id: int) -> Article:
    """A published article the caller may be suggested (end users: public ones only)."""
    article = await session.get(Article, article_id)
    if (
        article is None
        or article.status != "published"
        or (not caller.is_staff and article.visibility != "public")
    ):
        raise NotFound(f"no published article {article_id}", field="article_id")
    return article


async def deflect(
    *, session: AsyncSession, caller: Caller, article_id: int, text: str, now: datetime
) -> DeflectionView:
    """Record that ``article_id`` solved the caller's problem and count it on the article,
    in the caller's transaction."""
    article = await suggestible_article(session, caller, article_id)
    deflection = Deflection(
        user_id=caller.user_id, article_id=article.id, text=text[:MAX_TEXT], created_at=now
    )
    session.add(deflection)
    await session.execute(
        update(Article)
        .where(Article.id == article.id)
        .values(deflected_count=Article.deflected_count + 1)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    count = await session.scalar(select(Article.deflected_count).where(Article.id == article.id))
    return DeflectionView(
        id=deflection.id,
        article_id=article.id,
        article_title=article.title,
        deflected_count=int(count or 0),
        created_at=now,
    )


async def deflection_count(session: AsyncSession) -> int:
    """How many reports articles have ended so far."""
    return int(await session.scalar(select(func.count()).select_from(Deflection)) or 0)
