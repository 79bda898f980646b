"""Knowledge routes: ``/api/v1/articles`` and the incident's ``article`` (draft from its
solution), ``articles`` and ``apply-article``; translation only.

Everyone signed in may list and read what they may see (end users: published public
articles) and vote; writing, the workflow, versions and uploads are for staff.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, Path, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from opsdesk.api.attachments import file_download, read_upload, storage_dir
from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules, StaffCaller
from opsdesk.api.incidents import expected_version
from opsdesk.auth.roles import Caller
from opsdesk.core.bounds import PageNumber, RowId
from opsdesk.core.errors import NotFound
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.incidents import attachments
from opsdesk.incidents.access import access_incident
from opsdesk.knowledge import article_files, articles, usage, versions
from opsdesk.knowledge.article_models import ArticleAttachment
from opsdesk.knowledge.article_states import (
    STATUS_LABELS,
    ArticleStatus,
    ArticleStep,
    Visibility,
    available_moves,
)
from opsdesk.knowledge.models import Article
from opsdesk.knowledge.schemas import (
    AppliedOut,
    ApplyRequest,
    ArticleAttachmentOut,
    ArticleCreate,
    ArticleEventOut,
    ArticleOut,
    ArticlePage,
    ArticleUpdate,
    ArticleVersionOut,
    FeedbackOut,
    FeedbackRequest,
    StepRequest,
)

router = APIRouter(prefix="/api/v1/articles", tags=["knowledge"])
incident_router = APIRouter(prefix="/api/v1/incidents", tags=["knowledge"])

VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
Key = Annotated[str | None, Query(max_length=64)]


def article_etag(article: Article) -> str:
    return f'"{article.version}"'


def article_out(
    article: Article, caller: Caller, *, source: str | None = None, vote: bool | None = None
) -> ArticleOut:
    """The article as ``caller`` may see it: end users get no staff-side facts."""
    staff = caller.is_staff
    status = ArticleStatus(article.status)
    return ArticleOut(
        id=article.id,
        title=article.title,
        body=article.body,
        workaround=article.workaround,
        status=status,
        status_label=STATUS_LABELS[status],
        visibility=Visibility(article.visibility),
        category=article.category,
        application=article.application,
        keywords=list(article.keywords),
        version=article.version,
        helped_count=article.helped_count,
        not_helped_count=article.not_helped_count,
        applied_count=article.applied_count if staff else None,
        view_count=article.view_count if staff else None,
        author_id=article.author_id if staff else None,
        source_incident=source if staff else None,
        created_at=article.created_at,
        updated_at=article.updated_at,
        published_at=article.published_at,
        my_vote=vote,
        steps=[move.step for move in available_moves(status, caller.role)] if staff else [],
    )


def file_out(row: ArticleAttachment) -> ArticleAttachmentOut:
    return ArticleAttachmentOut(
        id=row.id,
        file_name=row.file_name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploader_id=row.uploader_id,
        created_at=row.created_at,
        download_url=f"/api/v1/articles/{row.article_id}/attachments/{row.id}",
    )


@router.get("", response_model=ArticlePage)
async def list_articles(
    caller: CurrentCaller,
    db: DB,
    status: ArticleStatus | None = None,
    visibility: Visibility | None = None,
    category: Key = None,
    application: Key = None,
    q: Annotated[str | None, Query(max_length=200, description="Words to look for")] = None,
    page: PageNumber = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> ArticlePage:
    """Articles the caller may read (end users: published, public), newest change first."""
    async with db.read() as session:
        found = await articles.list_articles(
            session=session,
            caller=caller,
            page=PageRequest(page, per_page),
            status=status,
            visibility=visibility,
            category=category,
            application=application,
            q=q,
        )
    return ArticlePage(
        items=[article_out(row, caller) for row in found.items],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


@router.post("", status_code=201, response_model=ArticleOut)
async def create_article(
    body: ArticleCreate, response: Response, caller: StaffCaller, db: DB, clock: ClockDep
) -> ArticleOut:
    """Write a new article; it starts as a draft."""
    async with db.write() as session:
        article = await articles.create_article(
            session=session, caller=caller, data=body, now=clock.now()
        )
        response.headers["ETag"] = article_etag(article)
        return article_out(article, caller)


@router.get("/{article_id}", response_model=ArticleOut)
async def get_article(
    article_id: RowId, response: Response, caller: CurrentCaller, db: DB
) -> ArticleOut:
    """One article (counts a view)."""
    async with db.read() as session:
        article = await articles.access_article(
            session=session, caller=caller, article_id=article_id
        )
        source = await articles.source_number(session, article)
        vote = await usage.my_vote(session, caller=caller, article_id=article.id)
        out = article_out(article, caller, source=source, vote=vote)
    async with db.write() as session:
        await articles.bump_views(session, article_id=article_id)
    response.headers["ETag"] = article_etag(article)
    return out


@router.patch("/{article_id}", response_model=ArticleOut)
async def update_article(
    article_id: RowId,
    body: ArticleUpdate,
    response: Response,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ArticleOut:
    """Change fields; each save is a new version. Stale ``If-Match``: 412; stale ``version``
    in the body: 409."""
    async with db.write() as session:
        article = await articles.update_article(
            session=session,
            caller=caller,
            article_id=article_id,
            data=body,
            now=clock.now(),
            expected_version=expected_version(if_match),
        )
        source = await articles.source_number(session, article)
        response.headers["ETag"] = article_etag(article)
        return article_out(article, caller, source=source)


@router.post("/{article_id}/actions/{step}", response_model=ArticleOut)
async def take_step(
    article_id: RowId,
    step: ArticleStep,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    body: StepRequest | None = None,
) -> ArticleOut:
    """Workflow: ``submit`` (draft → in review), ``publish`` (in review or retired →
    published; managers and admins), ``retire`` (published → retired; managers and admins),
    ``draft`` (in review or retired → draft)."""
    async with db.write() as session:
        article = await articles.take_step(
            session=session,
            caller=caller,
            article_id=article_id,
            step=step,
            comment=body.comment if body else "",
            now=clock.now(),
        )
        source = await articles.source_number(session, article)
        return article_out(article, caller, source=source)


@router.get("/{article_id}/events", response_model=list[ArticleEventOut])
async def list_events(article_id: RowId, caller: StaffCaller, db: DB) -> list[ArticleEventOut]:
    """What happened to the article, oldest first."""
    async with db.read() as session:
        rows = await articles.list_events(session=session, caller=caller, article_id=article_id)
    out = []
    for event, number in rows:
        item = ArticleEventOut.model_validate(event)
        item.incident = number
        out.append(item)
    return out


@router.get("/{article_id}/versions", response_model=list[ArticleVersionOut])
async def list_versions(article_id: RowId, caller: StaffCaller, db: DB) -> list[ArticleVersionOut]:
    """Every saved version, newest first."""
    async with db.read() as session:
        rows = await versions.list_versions(session=session, caller=caller, article_id=article_id)
    return [ArticleVersionOut.model_validate(row) for row in rows]


@router.get("/{article_id}/versions/{version}", response_model=ArticleVersionOut)
async def get_version(
    article_id: RowId, version: VersionNumber, caller: StaffCaller, db: DB
) -> ArticleVersionOut:
    async with db.read() as session:
        row = await versions.get_version(
            session=session, caller=caller, article_id=article_id, version=version
        )
    return ArticleVersionOut.model_validate(row)


@router.post("/{article_id}/versions/{version}/restore", response_model=ArticleOut)
async def restore_version(
    article_id: RowId, version: VersionNumber, caller: StaffCaller, db: DB, clock: ClockDep
) -> ArticleOut:
    """Make an old version current again, as a new version."""
    async with db.write() as session:
        article = await versions.restore_version(
            session=session, caller=caller, article_id=article_id, version=version, now=clock.now()
        )
        source = await articles.source_number(session, article)
        return article_out(article, caller, source=source)


@router.post("/{article_id}/attachments", status_code=201, response_model=ArticleAttachmentOut)
async def upload(
    article_id: RowId,
    request: Request,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    file: Annotated[
        UploadFile | None, File(description="The file (multipart field `file`)")
    ] = None,
) -> ArticleAttachmentOut:
    """Attach one file (JPG, PNG, PDF, DOCX or TXT, checked by content) to the article."""
    file_name, data = await read_upload(file, rules)
    async with db.write() as session:
        row = await article_files.store_file(
            session=session,
            caller=caller,
            article_id=article_id,
            file_name=file_name,
            data=data,
            now=clock.now(),
            rules=rules,
            storage_dir=storage_dir(request),
        )
        return file_out(row)


@router.get("/{article_id}/attachments", response_model=list[ArticleAttachmentOut])
async def list_files(
    article_id: RowId, caller: CurrentCaller, db: DB
) -> list[ArticleAttachmentOut]:
    async with db.read() as session:
        rows = await article_files.list_files(session=session, caller=caller, article_id=article_id)
    return [file_out(row) for row in rows]


@router.get("/{article_id}/attachments/{attachment_id}", response_class=FileResponse)
async def download(
    article_id: RowId, attachment_id: RowId, request: Request, caller: CurrentCaller, db: DB
) -> FileResponse:
    """The file's bytes, as an attachment under its original name."""
    async with db.read() as session:
        row = await article_files.get_file(
            session=session, caller=caller, article_id=article_id, attachment_id=attachment_id
        )
    path = attachments.content_path(storage_dir(request), row.sha256)
    if not path.is_file():
        raise NotFound(f"the content of file {row.id} is missing", field="id")
    return file_download(path, row.content_type, row.file_name)


@router.post("/{article_id}/feedback", response_model=FeedbackOut)
async def give_feedback(
    article_id: RowId, body: FeedbackRequest, caller: CurrentCaller, db: DB, clock: ClockDep
) -> FeedbackOut:
    """ "Did this help?": one vote per person, sending again changes it."""
    async with db.write() as session:
        article = await usage.give_feedback(
            session=session,
            caller=caller,
            article_id=article_id,
            helped=body.helped,
            now=clock.now(),
        )
        return FeedbackOut(
            article_id=article.id,
            helped=body.helped,
            helped_count=article.helped_count,
            not_helped_count=article.not_helped_count,
        )


@incident_router.post("/{number}/article", status_code=201, response_model=ArticleOut)
async def create_from_incident(
    number: str, caller: StaffCaller, db: DB, clock: ClockDep
) -> ArticleOut:
    """Draft an article from the incident's solution in one step (prefilled, linked)."""
    async with db.write() as session:
        article, incident = await articles.create_from_incident(
            session=session, caller=caller, number=number, now=clock.now()
        )
        return article_out(article, caller, source=incident.number)


@incident_router.get("/{number}/articles", response_model=list[ArticleOut])
async def incident_articles(number: str, caller: CurrentCaller, db: DB) -> list[ArticleOut]:
    """Articles written from this incident that the caller may read."""
    async with db.read() as session:
        incident = await access_incident(session=session, caller=caller, number=number)
        rows = await articles.articles_from_incident(
            session, caller=caller, incident_id=incident.id
        )
    return [article_out(row, caller, source=incident.number) for row in rows]


@incident_router.post("/{number}/apply-article", response_model=AppliedOut)
async def apply_article(
    number: str, body: ApplyRequest, caller: StaffCaller, db: DB, clock: ClockDep
) -> AppliedOut:
    """Post a published article's workaround as a public reply on the incident."""
    async with db.write() as session:
        applied = await usage.apply_article(
            session=session,
            caller=caller,
            number=number,
            article_id=body.article_id,
            now=clock.now(),
        )
        return AppliedOut(
            incident=applied.number,
            article_id=applied.article.id,
            conversation_id=applied.entry.id,
            applied_count=applied.article.applied_count,
        )
