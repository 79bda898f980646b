"""An article's saved versions: list them, read one, and restore one as a new version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Forbidden, NotFound
from opsdesk.knowledge.article_models import ArticleVersion
from opsdesk.knowledge.article_states import ArticleStatus, may_edit
from opsdesk.knowledge.articles import (
    CONTENT_FIELDS,
    _check_references,
    _save_content,
    access_article,
    refuse_end_users,
)
from opsdesk.knowledge.models import Article


async def list_versions(
    *, session: AsyncSession, caller: Caller, article_id: int
) -> list[ArticleVersion]:
    """Every saved version, newest first; staff only."""
    refuse_end_users(caller, "an article's versions")
    article = await access_article(session=session, caller=caller, article_id=article_id)
    rows = await session.scalars(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article.id)
        .order_by(ArticleVersion.version.desc())
    )
    return list(rows)


async def get_version(
    *, session: AsyncSession, caller: Caller, article_id: int, version: int
) -> ArticleVersion:
    refuse_end_users(caller, "an article's versions")
    article = await access_article(session=session, caller=caller, article_id=article_id)
    row = await session.scalar(
        select(ArticleVersion).where(
            ArticleVersion.article_id == article.id, ArticleVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"article {article_id} has no version {version}", field="version")
    return row


async def restore_version(
    *, session: AsyncSession, caller: Caller, article_id: int, version: int, now: datetime
) -> Article:
    """Make an old version's content current again, as a new version (nothing is lost)."""
    refuse_end_users(caller)
    article = await access_article(
        session=session, caller=caller, article_id=article_id, for_update=True
    )
    if not may_edit(ArticleStatus(article.status), caller.role):
        raise Forbidden(
            f"status: a {article.status} article is changed by an incident manager or admin",
            field="status",
        )
    old = await get_version(session=session, caller=caller, article_id=article_id, version=version)
    values = {name: getattr(old, name) for name in CONTENT_FIELDS}
    # The reference data may have changed since; a disabled key is refused, naming it.
    await _check_references(session, old.category, old.application)
    await _save_content(
        session,
        article,
        caller=caller,
        values=values,
        now=now,
        note=f"Restored version {version}",
        action="restored",
    )
    return article
