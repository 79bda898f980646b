"""Use cases of knowledge articles: write, edit (each save a version), the review workflow,
lists and search for whoever asks, and drafting an article from an incident's solution.

Staff see every article; end users only published ones meant for them (``public``): any
other article does not exist for them (404). Every change writes its ``article_events`` row
in the caller's transaction; services flush and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.catalog import service as catalog
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from opsdesk.core.pagination import Page, PageRequest
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.fields import HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident
from opsdesk.knowledge.article_models import ArticleEvent, ArticleVersion
from opsdesk.knowledge.article_states import (
    ArticleStatus,
    ArticleStep,
    StepForbidden,
    StepRefused,
    Visibility,
    check_step,
    may_edit,
)
from opsdesk.knowledge.models import Article
from opsdesk.knowledge.schemas import TITLE_MAX, WORKAROUND_MAX, ArticleCreate, ArticleUpdate

# The fields a version keeps and an edit may change.
CONTENT_FIELDS = (
    "title",
    "body",
    "workaround",
    "visibility",
    "category",
    "application",
    "keywords",
)


def refuse_end_users(caller: Caller, what: str = "writing articles") -> None:
    if not caller.is_staff:
        raise Forbidden(f"{what} is for staff only")


def visible_articles(caller: Caller) -> Select[Article]:
    """Every article the caller may read: staff all, end users published public ones."""
    query = select(Article)
    if not caller.is_staff:
        query = query.where(
            Article.status == ArticleStatus.PUBLISHED, Article.visibility == Visibility.PUBLIC
        )
    return query


async def access_article(
    *, session: AsyncSession, caller: Caller, article_id: int, for_update: bool = False
) -> Article:
    """The one permission-checked way to load an article; anything unseen is 404."""
    query = visible_articles(caller).where(Article.id == article_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    article = await session.scalar(query)
    if article is None:
        raise NotFound(f"no article {article_id}", field="id")
    return article


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_articles(
    *,
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    status: ArticleStatus | None = None,
    visibility: Visibility | None = None,
    category: str | None = None,
    application: str | None = None,
    q: str | None = None,
) -> Page[Article]:
    """Articles the caller may read, most recently changed first; ``q`` matches every word
    in the title, body, workaround or keywords (case-insensitive)."""
    query = visible_articles(caller)
    if status is not None:
        query = query.where(Article.status == str(status))
    if visibility is not None:
        query = query.where(Article.visibility == str(visibility))
    if category:
        query = query.where(Article.category == category)
    if application:
        query = query.where(Article.application == application)
    for word in (q or "").split()[:10]:
        needle = f"%{_escape(word)}%"
        # Keywords are stored as JSON text, where letters beyond ASCII are \\u escapes.
        stored = f"%{_escape(json.dumps(word)[1:-1])}%"
        keywords = cast(Article.keywords, String)
        query = query.where(
            or_(
                Article.title.ilike(needle, escape="\\"),
                Article.body.ilike(needle, escape="\\"),
                Article.workaround.ilike(needle, escape="\\"),
                keywords.ilike(needle, escape="\\"),
                keywords.ilike(stored, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Article.updated_at.desc(), Article.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    return Page(items=list(rows), total=total or 0, page=page.page, per_page=page.per_page)


def _clean_keywords(keywords: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for word in keywords:
        seen.setdefault(word.lower(), word)
    return list(seen.values())


async def _check_references(
    session: AsyncSession, category: str | None, application: str | None
) -> None:
    await catalog.check_references(
        session=session, chosen={Kind.CATEGORY: category, Kind.APPLICATION: application}
    )


def _event(
    article: Article,
    *,
    action: str,
    caller: Caller,
    now: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    comment: str = "",
    incident_id: int | None = None,
) -> ArticleEvent:
    return ArticleEvent(
        article_id=article.id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_id=caller.user_id,
        version=article.version,
        comment=comment,
        incident_id=incident_id,
        created_at=now,
    )


def _snapshot(article: Article, caller: Caller, now: datetime, note: str) -> ArticleVersion:
    return ArticleVersion(
        article_id=article.id,
        version=article.version,
        title=article.title,
        body=article.body,
        workaround=article.workaround,
        visibility=article.visibility,
        category=article.category,
        application=article.application,
        keywords=list(article.keywords),
        editor_id=caller.user_id,
        note=note,
        created_at=now,
    )


async def create_article(
    *,
    session: AsyncSession,
    caller: Caller,
    data: ArticleCreate,
    now: datetime,
    source_incident_id: int | None = None,
) -> Article:
    """A new draft by a staff member, with its version 1 and its "created" event."""
    refuse_end_users(caller)
    await _check_references(session, data.category, data.application)
    article = Article(
        title=data.title,
        body=data.body,
        workaround=data.workaround,
        status=ArticleStatus.DRAFT,
        visibility=data.visibility,
        category=data.category,
        application=data.application,
        keywords=_clean_keywords(data.keywords),
        source_incident_id=source_incident_id,
        author_id=caller.user_id,
        version=1,
        helped_count=0,
        not_helped_count=0,
        applied_count=0,
        deflected_count=0,
        view_count=0,
        created_at=now,
        updated_at=now,
        published_at=None,
    )
    session.add(article)
    await session.flush()
    session.add(_snapshot(article, caller, now, "Created"))
    session.add(
        _event(
            article,
            action="created",
            caller=caller,
            now=now,
            to_status=ArticleStatus.DRAFT,
            incident_id=source_incident_id,
        )
    )
    await session.flush()
    return article


async def _save_content(
    session: AsyncSession,
    article: Article,
    *,
    caller: Caller,
    values: dict[str, Any],
    now: datetime,
    note: str,
    action: str,
) -> bool:
    """Apply ``values`` as a new version; False (nothing written) when nothing changes."""
    changed = [name for name, value in values.items() if getattr(article, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(article, name, values[name])
    article.version += 1
    article.updated_at = now
    session.add(_snapshot(article, caller, now, note))
    session.add(
        _event(article, action=action, caller=caller, now=now, comment=note or ", ".join(changed))
    )
    await session.flush()
    return True


async def update_article(
    *,
    session: AsyncSession,
    caller: Caller,
    article_id: int,
    data: ArticleUpdate,
    now: datetime,
    expected_version: int | None = None,
) -> Article:
    """Change the text or fields as a new version. ``expected_version`` (If-Match) stale is a
    412; ``data.version`` stale a 409."""
    refuse_end_users(caller)
    article = await access_article(
        session=session, caller=caller, article_id=article_id, for_update=True
    )
    if expected_version is not None and article.version != expected_version:
        raise PreconditionFailed(
            f"article {article_id} is at version {article.version}, not {expected_version}",
            field="If-Match",
        )
    if data.version is not None and article.version != data.version:
        raise Conflict(
            f"version: article {article_id} was changed meanwhile; it is at version "
            f"{article.version}, not {data.version}. Reload it and edit again",
            field="version",
        )
    if not may_edit(ArticleStatus(article.status), caller.role):
        raise Forbidden(
            f"status: a {article.status} article is changed by an incident manager or admin; "
            "revise it as a draft first",
            field="status",
        )
    sent = data.model_dump(exclude_unset=True, exclude={"version", "note"})
    for name in ("title", "body", "workaround", "visibility", "keywords"):
        if name in sent and sent[name] is None:
            raise ValidationFailed(f"{name}: cannot be null", field=name)
    if "category" in sent or "application" in sent:
        await _check_references(session, sent.get("category"), sent.get("application"))
    if "keywords" in sent:
        sent["keywords"] = _clean_keywords(sent["keywords"])
    if "visibility" in sent:
        sent["visibility"] = str(sent["visibility"])
    await _save_content(
        session, article, caller=caller, values=sent, now=now, note=data.note, action="edited"
    )
    return article


async def take_step(
    *,
    session: AsyncSession,
    caller: Caller,
    article_id: int,
    step: ArticleStep,
    comment: str,
    now: datetime,
) -> Article:
    """Move the article through its workflow (submit, publish, retire, draft) as the role
    allows, with its event."""
    refuse_end_users(caller, "the article workflow")
    article = await access_article(
        session=session, caller=caller, article_id=article_id, for_update=True
    )
    before = ArticleStatus(article.status)
    try:
        move = check_step(before, step, caller.role)
    except StepForbidden as exc:
        raise Forbidden(str(exc), field="step") from None
    except StepRefused as exc:
        raise Conflict(str(exc), field="step") from None
    if move.target == ArticleStatus.PUBLISHED and not article.workaround.strip():
        raise Conflict(
            "workaround: an article is published with a workaround to give; write one first",
            field="workaround",
        )
    article.status = move.target
    article.updated_at = now
    if move.target == ArticleStatus.PUBLISHED:
        article.published_at = now
    session.add(
        _event(
            article,
            action=str(step),
            caller=caller,
            now=now,
            from_status=before,
            to_status=move.target,
            comment=comment,
        )
    )
    await session.flush()
    return article


async def list_events(
    *, session: AsyncSession, caller: Caller, article_id: int
) -> list[tuple[ArticleEvent, str | None]]:
    """The article's workflow history, oldest first, with the incident number of each
    event about an incident; staff only."""
    refuse_end_users(caller, "an article's history")
    article = await access_article(session=session, caller=caller, article_id=article_id)
    rows = await session.execute(
        select(ArticleEvent, Incident.number)
        .outerjoin(Incident, Incident.id == ArticleEvent.incident_id)
        .where(ArticleEvent.article_id == article.id)
        .order_by(ArticleEvent.id)
    )
    return [(event, number) for event, number in rows]


async def source_number(session: AsyncSession, article: Article) -> str | None:
    if article.source_incident_id is None:
        return None
    number: str | None = await session.scalar(
        select(Incident.number).where(Incident.id == article.source_incident_id)
    )
    return number


async def bump_views(session: AsyncSession, *, article_id: int) -> None:
    """One more read: a single UPDATE, no lock held past it."""
    await session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(view_count=Article.view_count + 1)
        .execution_options(synchronize_session=False)
    )


async def articles_from_incident(
    session: AsyncSession, *, caller: Caller, incident_id: int
) -> list[Article]:
    """Articles written from this incident that the caller may read, newest first."""
    rows = await session.scalars(
        visible_articles(caller)
        .where(Article.source_incident_id == incident_id)
        .order_by(Article.id.desc())
    )
    return list(rows)


def _from_incident(incident: Incident) -> ArticleCreate:
    body = incident.description.strip()
    if incident.cause and incident.cause.strip():
        body = f"{body}\n\nCause: {incident.cause.strip()}".strip()
    return ArticleCreate(
        title=incident.title[:TITLE_MAX],
        body=body,
        workaround=(incident.solution or "").strip()[:WORKAROUND_MAX],
        category=incident.category,
        application=incident.application,
    )


async def create_from_incident(
    *, session: AsyncSession, caller: Caller, number: str, now: datetime
) -> tuple[Article, Incident]:
    """Draft an article from the incident's solution in one step: title, description (and
    cause) as the body, solution as the workaround, category and application; linked to
    the incident, which records it in its history (staff only)."""
    refuse_end_users(caller)
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    if not (incident.solution or "").strip():
        raise Conflict(
            f"solution: incident {number} has no solution yet; resolve it first",
            field="solution",
        )
    data = _from_incident(incident)
    # A category or application disabled since the incident was resolved is left out.
    for kind, name in ((Kind.CATEGORY, "category"), (Kind.APPLICATION, "application")):
        try:
            await catalog.check_references(session=session, chosen={kind: getattr(data, name)})
        except ValidationFailed:
            setattr(data, name, None)
    article = await create_article(
        session=session, caller=caller, data=data, now=now, source_incident_id=incident.id
    )
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.NOTE,
            operator_id=caller.user_id,
            now=now,
            comment=f"Knowledge article #{article.id} drafted from this incident's solution: "
            f"{article.title}",
            changes=[{"field": "article", "old": None, "new": f"#{article.id} {article.title}"}],
            internal=True,
        )
    )
    await session.flush()
    return article, incident
