"""The knowledge section of the incident page: articles written from this incident, the
"create article from solution" button and the "apply an article" picker (staff only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.incidents.models import Incident
from opsdesk.knowledge import articles
from opsdesk.knowledge.article_states import STATUS_LABELS, ArticleStatus, Visibility
from opsdesk.knowledge.models import Article

# The picker lists this many published articles (the category's first); any other is
# applied by its number.
PICKER_SIZE = 50


@dataclass(frozen=True)
class ArticleLink:
    id: int
    title: str
    status: str
    status_label: str
    public: bool


def article_link(article: Article) -> ArticleLink:
    return ArticleLink(
        id=article.id,
        title=article.title,
        status=article.status,
        status_label=STATUS_LABELS[ArticleStatus(article.status)],
        public=article.visibility == Visibility.PUBLIC,
    )


async def _picker(session: AsyncSession, incident: Incident) -> list[tuple[int, str]]:
    same_category = Article.category == incident.category
    rows = await session.execute(
        select(Article.id, Article.title)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(same_category.desc(), Article.applied_count.desc(), Article.id.desc())
        .limit(PICKER_SIZE)
    )
    return [(row.id, row.title) for row in rows]


async def knowledge_context(
    session: AsyncSession, caller: Caller, incident: Incident
) -> dict[str, Any]:
    """What the incident page shows of the knowledge base. End users get the published
    articles for them that were written from their incident, nothing else."""
    linked = await articles.articles_from_incident(session, caller=caller, incident_id=incident.id)
    context: dict[str, Any] = {"kb_linked": [article_link(row) for row in linked]}
    if caller.is_staff:
        context["kb_can_draft"] = bool((incident.solution or "").strip())
        context["kb_picker"] = await _picker(session, incident)
    return context
