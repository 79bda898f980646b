"""Knowledge base pages: the staff list, article page, new and edit forms (``/knowledge``),
the end users' read-only help pages at the same addresses (the incident page's
knowledge forms are in ``knowledge_incident``).

Routes only translate between HTML forms and the services in ``knowledge``.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.core.bounds import RowId
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.core.pagination import PageRequest
from opsdesk.knowledge import article_files, articles, usage, versions
from opsdesk.knowledge.article_states import (
    STATUS_LABELS,
    VISIBILITY_LABELS,
    ArticleStatus,
    ArticleStep,
    Visibility,
    available_moves,
    may_edit,
)
from opsdesk.knowledge.models import Article
from opsdesk.knowledge.schemas import ArticleCreate, ArticleUpdate
from opsdesk.web.common import (
    _catalog_names,
    _clock,
    _db,
    _done,
    _error_page,
    _posted,
    _render,
    _signed_in,
    _size,
    _store_each,
    _text,
    _to_login,
    _uploads,
    _user_names,
    page_links,
)
from opsdesk.web.incident_view import plain_message, refused_on_page, status_of_error

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
KINDS = (Kind.CATEGORY, Kind.APPLICATION)


def _not_staff(request: Request, caller: Caller) -> Response:
    return _error_page(
        request,
        caller=caller,
        status_code=403,
        title="Staff only",
        message="Writing knowledge articles is for staff.",
    )


def _missing(request: Request, caller: Caller, article_id: int) -> Response:
    return _error_page(
        request,
        caller=caller,
        status_code=404,
        title="Article not found",
        message=f"There is no article {article_id}, or you may not see it.",
    )


def _catalog_choices(names: dict[Kind, dict[str, str]]) -> dict[str, list[tuple[str, str]]]:
    def sort(kind: Kind) -> list[tuple[str, str]]:
        return sorted(names[kind].items(), key=lambda item: item[1].casefold())

    return {"categories": sort(Kind.CATEGORY), "applications": sort(Kind.APPLICATION)}


def _row(article: Article, names: dict[Kind, dict[str, str]]) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "status": article.status,
        "status_label": STATUS_LABELS[ArticleStatus(article.status)],
        "public": article.visibility == Visibility.PUBLIC,
        "category": names[Kind.CATEGORY].get(article.category or "", article.category or ""),
        "application": names[Kind.APPLICATION].get(
            article.application or "", article.application or ""
        ),
        "keywords": article.keywords,
        "helped": article.helped_count,
        "not_helped": article.not_helped_count,
        "applied": article.applied_count,
        "updated_at": article.updated_at,
        "summary": (article.body or article.workaround)[:160],
    }


# --- list ------------------------------------------------------------------------------


@router.get("/knowledge")
async def knowledge_list(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    query = request.query_params
    q = query.get("q", "")[:200]
    status_raw = query.get("status", "") if caller.is_staff else ""
    status = ArticleStatus(status_raw) if status_raw in set(ArticleStatus) else None
    visibility_raw = query.get("visibility", "") if caller.is_staff else ""
    visibility = Visibility(visibility_raw) if visibility_raw in set(Visibility) else None
    category = query.get("category", "")[:64]
    application = query.get("application", "")[:64] if caller.is_staff else ""
    try:
        page = min(max(1, int(query.get("page", "1"))), 100_000)
    except ValueError:
        page = 1
    async with _db(request).read() as session:
        found = await articles.list_articles(
            session=session,
            caller=caller,
            page=PageRequest(page, PER_PAGE),
            status=status,
            visibility=visibility,
            category=category or None,
            application=application or None,
            q=q or None,
        )
        names = await _catalog_names(session, KINDS)
    filters = {
        "q": q,
        "status": str(status or ""),
        "visibility": str(visibility or ""),
        "category": category,
        "application": application,
    }

    def url(**change: str) -> str:
        params = {**filters, **change}
        return "/knowledge?" + urlencode({k: v for k, v in params.items() if v})

    return _render(
        request,
        "knowledge_list.html" if caller.is_staff else "portal_knowledge.html",
        {
            "rows": [_row(article, names) for article in found.items],
            "total": found.total,
            "filters": filters,
            "statuses": [(str(s), STATUS_LABELS[s]) for s in ArticleStatus],
            "visibilities": [(str(v), VISIBILITY_LABELS[v]) for v in Visibility],
            **_catalog_choices(names),
            **page_links(lambda n: url(page=str(n)), page, PER_PAGE, found.total),
        },
        caller=caller,
    )


# --- new and edit forms ------------------------------------------------------------------


def _form_values(form: Any) -> dict[str, Any]:
    keywords = [word.strip() for word in _text(form, "keywords").split(",") if word.strip()]
    return {
        "title": _text(form, "title"),
        "body": _text(form, "body").replace("\r\n", "\n"),
        "workaround": _text(form, "workaround").replace("\r\n", "\n"),
        "visibility": _text(form, "visibility") or "staff",
        "category": _text(form, "category").strip() or None,
        "application": _text(form, "application").strip() or None,
        "keywords": keywords,
    }


async def _form_page(
    request: Request,
    caller: Caller,
    *,
    article: Article | None,
    values: dict[str, Any] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    async with _db(request).read() as session:
        names = await _catalog_names(session, KINDS)
    if values is None:
        values = (
            {
                "title": article.title,
                "body": article.body,
                "workaround": article.workaround,
                "visibility": article.visibility,
                "category": article.category,
                "application": article.application,
                "keywords": article.keywords,
            }
            if article is not None
            # Every field the form reads: the templates' undefined values raise.
            else {
                "title": "",
                "body": "",
                "workaround": "",
                "visibility": "staff",
                "category": None,
                "application": None,
                "keywords": [],
            }
        )
    return _render(
        request,
        "knowledge_form.html",
        {
            "article": article,
            "values": values,
            "message": message,
            "visibilities": [(str(v), VISIBILITY_LABELS[v]) for v in Visibility],
            **_catalog_choices(names),
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/knowledge/new")
async def new_article_form(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if not caller.is_staff:
        return _not_staff(request, caller)
    return await _form_page(request, caller, article=None)


@router.post("/knowledge")
async def create_article(request: Request) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    values = _form_values(form)
    try:
        data = ArticleCreate.model_validate(values)
        async with _db(request).write() as session:
            article = await articles.create_article(
                session=session, caller=caller, data=data, now=_clock(request).now()
            )
    except (OpsdeskError, ValidationError) as exc:
        if not caller.is_staff:
            return _not_staff(request, caller)
        return await _form_page(
            request,
            caller,
            article=None,
            values=values,
            message=plain_message(exc),
            status_code=status_of_error(exc),
        )
    return _done(request, f"/knowledge/{article.id}", f"Draft article #{article.id} saved.")


@router.get("/knowledge/{article_id}/edit")
async def edit_article_form(request: Request, article_id: RowId) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if not caller.is_staff:
        return _not_staff(request, caller)
    async with _db(request).read() as session:
        try:
            article = await articles.access_article(
                session=session, caller=caller, article_id=article_id
            )
        except NotFound:
            return _missing(request, caller, article_id)
    return await _form_page(request, caller, article=article)


@router.post("/knowledge/{article_id}/edit")
async def edit_article(request: Request, article_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    values = _form_values(form)
    version = _text(form, "version")
    try:
        data = ArticleUpdate.model_validate(
            {
                **values,
                "note": _text(form, "note"),
                "version": int(version) if version.isdigit() and len(version) < 10 else None,
            }
        )
        async with _db(request).write() as session:
            article = await articles.update_article(
                session=session,
                caller=caller,
                article_id=article_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        if not caller.is_staff:
            return _not_staff(request, caller)
        async with _db(request).read() as session:
            try:
                current = await articles.access_article(
                    session=session, caller=caller, article_id=article_id
                )
            except NotFound:
                return _missing(request, caller, article_id)
        return await _form_page(
            request,
            caller,
            article=current,
            values=values,
            message=plain_message(exc),
            status_code=status_of_error(exc),
        )
    return _done(
        request,
        f"/knowledge/{article.id}",
        f"Article #{article.id} saved as version {article.version}.",
    )


# --- the article page --------------------------------------------------------------------


async def _staff_context(session: AsyncSession, caller: Caller, article: Article) -> dict[str, Any]:
    saved = await versions.list_versions(session=session, caller=caller, article_id=article.id)
    events = await articles.list_events(session=session, caller=caller, article_id=article.id)
    files = await article_files.files_of(session, article_id=article.id)
    people = await _user_names(
        session,
        [article.author_id]
        + [v.editor_id for v in saved]
        + [e.actor_id for e, _n in events]
        + [f.uploader_id for f in files],
    )
    status = ArticleStatus(article.status)
    return {
        "author": people.get(article.author_id, article.author_id),
        "source": await articles.source_number(session, article),
        "versions": [
            {
                "version": v.version,
                "title": v.title,
                "body": v.body,
                "workaround": v.workaround,
                "visibility": VISIBILITY_LABELS[Visibility(v.visibility)],
                "keywords": v.keywords,
                "editor": people.get(v.editor_id, v.editor_id),
                "note": v.note,
                "at": v.created_at,
                "current": v.version == article.version,
            }
            for v in saved
        ],
        "events": [
            {
                "action": e.action,
                "to_status": STATUS_LABELS[ArticleStatus(e.to_status)] if e.to_status else "",
                "actor": people.get(e.actor_id or "", e.actor_id or "opsdesk"),
                "comment": e.comment,
                "incident": number,
                "at": e.created_at,
            }
            for e, number in reversed(events)
        ],
        "files": [
            {
                "name": f.file_name,
                "size": _size(f.size),
                "uploader": people.get(f.uploader_id, f.uploader_id),
                "at": f.created_at,
                "url": f"/api/v1/articles/{article.id}/attachments/{f.id}",
            }
            for f in files
        ],
        "moves": available_moves(status, caller.role),
        "can_edit": may_edit(status, caller.role),
    }


async def _article_page(
    request: Request,
    caller: Caller,
    article_id: int,
    *,
    failed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with _db(request).read() as session:
        try:
            article = await articles.access_article(
                session=session, caller=caller, article_id=article_id
            )
        except NotFound:
            return _missing(request, caller, article_id)
        names = await _catalog_names(session, KINDS)
        vote = await usage.my_vote(session, caller=caller, article_id=article.id)
        context: dict[str, Any] = {
            "article": article,
            "row": _row(article, names),
            "visibility_label": VISIBILITY_LABELS[Visibility(article.visibility)],
            "my_vote": vote,
            "can_vote": article.status == ArticleStatus.PUBLISHED,
            "failed": failed,
        }
        if caller.is_staff:
            context |= await _staff_context(session, caller, article)
        else:
            files = await article_files.files_of(session, article_id=article.id)
            context["files"] = [
                {
                    "name": f.file_name,
                    "size": _size(f.size),
                    "url": f"/api/v1/articles/{article.id}/attachments/{f.id}",
                }
                for f in files
            ]
    if status_code == 200 and failed is None:
        async with _db(request).write() as session:
            await articles.bump_views(session, article_id=article.id)
    return _render(
        request,
        "knowledge_article.html" if caller.is_staff else "portal_article.html",
        context,
        caller=caller,
        status_code=status_code,
    )


@router.get("/knowledge/{article_id}")
async def article_page(request: Request, article_id: RowId) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    return await _article_page(request, caller, article_id)


@router.post("/knowledge/{article_id}/steps/{step}")
async def take_step(request: Request, article_id: RowId, step: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        if step not in set(ArticleStep):
            raise ValidationFailed(f"step: there is no step {step[:40]!r}", field="step")
        async with _db(request).write() as session:
            article = await articles.take_step(
                session=session,
                caller=caller,
                article_id=article_id,
                step=ArticleStep(step),
                comment=_text(form, "comment")[:300],
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return await refused_on_page(_article_page, request, caller, article_id, "steps", exc)
    label = STATUS_LABELS[ArticleStatus(article.status)].lower()
    return _done(request, f"/knowledge/{article.id}", f"Article #{article.id} is {label}.")


@router.post("/knowledge/{article_id}/versions/{version}/restore")
async def restore_version(request: Request, article_id: RowId, version: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, _form = posted
    try:
        async with _db(request).write() as session:
            article = await versions.restore_version(
                session=session,
                caller=caller,
                article_id=article_id,
                version=min(version, 2**31 - 1),
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return await refused_on_page(_article_page, request, caller, article_id, "versions", exc)
    return _done(
        request,
        f"/knowledge/{article.id}",
        f"Version {version} restored as version {article.version}.",
    )


@router.post("/knowledge/{article_id}/files")
async def add_files(request: Request, article_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    uploads = _uploads(form, "files")
    try:
        if not uploads:
            raise ValidationFailed("files: choose at least one file", field="files")
        store = partial(article_files.store_file, article_id=article_id)
        async with _db(request).write() as session:
            await _store_each(request, session, caller, uploads, store)
    except OpsdeskError as exc:
        return await refused_on_page(_article_page, request, caller, article_id, "files", exc)
    finally:
        await form.close()
    return _done(request, f"/knowledge/{article_id}#files", f"{len(uploads)} file(s) added.")


@router.post("/knowledge/{article_id}/feedback")
async def give_feedback(request: Request, article_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    answer = _text(form, "helped")
    try:
        if answer not in ("yes", "no"):
            raise ValidationFailed("helped: answer yes or no", field="helped")
        async with _db(request).write() as session:
            await usage.give_feedback(
                session=session,
                caller=caller,
                article_id=article_id,
                helped=answer == "yes",
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return await refused_on_page(_article_page, request, caller, article_id, "feedback", exc)
    return _done(request, f"/knowledge/{article_id}#feedback", "Thank you for your answer.")
