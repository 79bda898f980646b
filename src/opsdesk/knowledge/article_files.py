"""Files of an article: checked by content with the incidents' rules (``filetypes``) and
kept in the same content store (stored once by SHA-256)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.incidents.attachments import check_and_keep
from opsdesk.incidents.rules import IncidentRules
from opsdesk.knowledge.article_models import ArticleAttachment, ArticleEvent
from opsdesk.knowledge.articles import access_article, refuse_end_users


async def store_file(
    *,
    session: AsyncSession,
    caller: Caller,
    article_id: int,
    file_name: str,
    data: bytes,
    now: datetime,
    rules: IncidentRules,
    storage_dir: Path,
) -> ArticleAttachment:
    """Check and keep one file on the article (staff only), with its event."""
    refuse_end_users(caller, "adding files to articles")
    article = await access_article(
        session=session, caller=caller, article_id=article_id, for_update=True
    )
    count = await session.scalar(
        select(func.count())
        .select_from(ArticleAttachment)
        .where(ArticleAttachment.article_id == article.id)
    )
    if (count or 0) >= rules.attachment_max_count:
        raise ValidationFailed(
            f"file: article {article_id} already has {count} files, the most allowed "
            f"({rules.attachment_max_count})",
            field="file",
        )
    checked, sha256 = await check_and_keep(
        file_name=file_name, data=data, rules=rules, storage_dir=storage_dir
    )
    row = ArticleAttachment(
        article_id=article.id,
        uploader_id=caller.user_id,
        file_name=checked.name,
        content_type=checked.content_type,
        size=len(data),
        sha256=sha256,
        created_at=now,
    )
    session.add(row)
    session.add(
        ArticleEvent(
            article_id=article.id,
            action="file_added",
            actor_id=caller.user_id,
            version=article.version,
            comment=checked.name,
            created_at=now,
        )
    )
    await session.flush()
    return row


async def list_files(
    *, session: AsyncSession, caller: Caller, article_id: int
) -> list[ArticleAttachment]:
    """The article's files, oldest first, to whoever may read the article."""
    article = await access_article(session=session, caller=caller, article_id=article_id)
    return await files_of(session, article_id=article.id)


async def files_of(session: AsyncSession, *, article_id: int) -> list[ArticleAttachment]:
    rows = await session.scalars(
        select(ArticleAttachment)
        .where(ArticleAttachment.article_id == article_id)
        .order_by(ArticleAttachment.id)
    )
    return list(rows)


async def get_file(
    *, session: AsyncSession, caller: Caller, article_id: int, attachment_id: int
) -> ArticleAttachment:
    article = await access_article(session=session, caller=caller, article_id=article_id)
    row = await session.get(ArticleAttachment, attachment_id)
    if row is None or row.article_id != article.id:
        raise NotFound(f"article {article_id} has no file {attachment_id}", field="id")
    return row
