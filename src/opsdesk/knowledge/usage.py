"""How articles are used: applied to an incident (its workaround posted as a public reply)
and rated by readers ("this helped"). The counters on ``articles`` stay exact: each is
moved by one UPDATE in the same transaction as the row that justifies it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration.models import ConversationEntry
from opsdesk.collaboration.schemas import ConversationCreate
from opsdesk.core.errors import Conflict, NotFound
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.knowledge.article_models import ArticleEvent, ArticleFeedback
from opsdesk.knowledge.article_states import ArticleStatus, feedback_delta
from opsdesk.knowledge.articles import access_article, refuse_end_users
from opsdesk.knowledge.models import Article


@dataclass(frozen=True)
class Applied:
    article: Article
    entry: ConversationEntry
    number: str


async def apply_article(
    *, session: AsyncSession, caller: Caller, number: str, article_id: int, now: datetime
) -> Applied:
    """Post a published article's workaround on incident ``number`` as a public reply (a
    normal conversation entry: history row, the reporter told), record which article it
    was on the incident and the article, and count it; staff only."""
    refuse_end_users(caller, "applying an article")
    # The incident first: every incident write locks it first, so two applies wait in line.
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    try:
        article = await access_article(session=session, caller=caller, article_id=article_id)
    except NotFound:
        raise NotFound(
            f"article_id: there is no article {article_id}", field="article_id"
        ) from None
    if article.status != ArticleStatus.PUBLISHED:
        raise Conflict(
            f"article_id: article {article_id} is {article.status}; only published articles "
            "can be applied",
            field="article_id",
        )
    if not article.workaround.strip():
        raise Conflict(
            f"article_id: article {article_id} has no workaround to post", field="article_id"
        )
    entry = await collaboration.add_conversation(
        session=session,
        caller=caller,
        number=incident.number,
        data=ConversationCreate(body=article.workaround),
        now=now,
    )
    label = f"#{article.id} {article.title}"
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.NOTE,
            operator_id=caller.user_id,
            now=now,
            comment=f"Applied knowledge article {label}: its workaround was sent as a reply",
            changes=[{"field": "article", "old": None, "new": label}],
            internal=True,
        )
    )
    await session.execute(
        update(Article)
        .where(Article.id == article.id)
        .values(applied_count=Article.applied_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.add(
        ArticleEvent(
            article_id=article.id,
            action="applied",
            from_status=None,
            to_status=None,
            actor_id=caller.user_id,
            version=article.version,
            comment=f"Workaround sent as a reply on {incident.number}",
            incident_id=incident.id,
            created_at=now,
        )
    )
    await session.flush()
    await session.refresh(article, ["applied_count"])
    return Applied(article=article, entry=entry, number=incident.number)


async def give_feedback(
    *, session: AsyncSession, caller: Caller, article_id: int, helped: bool, now: datetime
) -> Article:
    """The caller's "did this help?" on an article they may read: one vote per person,
    changeable; the article's two counters move with it in this transaction."""
    article = await access_article(
        session=session, caller=caller, article_id=article_id, for_update=True
    )
    if article.status != ArticleStatus.PUBLISHED:
        raise Conflict(
            f"status: article {article_id} is {article.status}; only published articles are rated",
            field="status",
        )
    vote = await session.get(ArticleFeedback, (article.id, caller.user_id))
    old = None if vote is None else vote.helped
    more_helped, more_not = feedback_delta(old, helped)
    if vote is None:
        session.add(
            ArticleFeedback(
                article_id=article.id,
                user_id=caller.user_id,
                helped=helped,
                created_at=now,
                updated_at=now,
            )
        )
    elif old != helped:
        vote.helped = helped
        vote.updated_at = now
    if more_helped or more_not:
        # The article row is locked above, so counting from it is exact.
        article.helped_count += more_helped
        article.not_helped_count += more_not
    await session.flush()
    return article


async def my_vote(session: AsyncSession, *, caller: Caller, article_id: int) -> bool | None:
    helped: bool | None = await session.scalar(
        select(ArticleFeedback.helped).where(
            ArticleFeedback.article_id == article_id, ArticleFeedback.user_id == caller.user_id
        )
    )
    return helped
