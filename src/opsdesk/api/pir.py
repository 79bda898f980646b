"""Post-incident review routes under ``/api/v1/reviews``: translation only; staff only.

Workflow steps are further limited by the service to the configured assistant directors
(review) and directors (approve); exports answer 501 naming the extra a format needs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.api.deps import DB, ClockDep, StaffCaller
from opsdesk.api.errors import error_body
from opsdesk.auth.roles import Caller
from opsdesk.core.bounds import PageNumber, RowId
from opsdesk.core.pagination import PageRequest
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import HISTORY_ACTION_LABELS, LEVEL_LABELS
from opsdesk.incidents.models import Incident
from opsdesk.reviews import export, pir_approval, pir_editing, pir_service, time_summary
from opsdesk.reviews.pir_models import PostIncidentReview
from opsdesk.reviews.pir_schemas import (
    ActionItemCreate,
    ActionItemOut,
    ActionItemUpdate,
    ReviewCreate,
    ReviewHistoryOut,
    ReviewOut,
    ReviewPage,
    ReviewSections,
    ReviewSummaryOut,
    StepBody,
    TimeEdit,
    TimeEntryOut,
    TimeKey,
)
from opsdesk.reviews.pir_workflow import STATUS_LABELS, ReviewStatus, Step

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])
MAX_PER_PAGE = 100


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def time_entries(review: PostIncidentReview) -> list[TimeEntryOut]:
    entries = []
    for key in time_summary.KEYS:
        entry = review.time_summary.get(key) or {}
        edited = entry.get("edited") or {}
        action = str(entry.get("source_action") or "")
        label = HISTORY_ACTION_LABELS.get(action)
        entries.append(
            TimeEntryOut(
                key=key,
                label=time_summary.LABELS[key],
                value=_parse(entry.get("value")),
                source_id=entry.get("source_id"),
                source_action=action,
                source_label=label.en if label is not None else action,
                edited=bool(edited),
                edited_by=edited.get("by"),
                edited_at=_parse(edited.get("at")),
                reason=edited.get("reason", ""),
                old_value=_parse(edited.get("old")),
            )
        )
    return entries


async def review_out(
    session: AsyncSession,
    review: PostIncidentReview,
    incident: Incident,
    caller: Caller,
    settings: Settings,
) -> ReviewOut:
    data = await pir_service.bundle(session, review, incident)
    times = time_entries(review)
    values = {entry.key: entry.value for entry in times}
    duration = time_summary.impact(values["failure_occurred"], values["services_restored"])
    approvers = pir_approval.approvers_of(settings)
    return ReviewOut(
        id=review.id,
        incident_number=incident.number,
        incident_title=incident.title,
        level=data.level_label,
        major=incident.major,
        status=ReviewStatus(review.status),
        status_label=data.status_label,
        required=review.required,
        required_reason=review.required_reason,
        title=review.title,
        description=review.description,
        client_impact=review.client_impact,
        resolution=review.resolution,
        worked_well=review.worked_well,
        did_not_work=review.did_not_work,
        recommendations=review.recommendations,
        time_summary=times,
        client_impact_minutes=None if duration is None else int(duration.total_seconds() // 60),
        client_impact_duration=time_summary.describe(duration),
        action_items=[
            ActionItemOut(
                id=item.id,
                position=item.position,
                action=item.action,
                responsibility=item.responsibility,
                assignee_id=item.assignee_id,
                priority=item.priority,
                due_at=item.due_at,
                task_id=item.task_id,
                task_status=data.task_status.get(item.task_id) if item.task_id else None,
            )
            for item in data.items
        ],
        history=[
            ReviewHistoryOut(
                id=row.id,
                action=row.action,
                actor_id=row.actor_id,
                at=row.at,
                from_status=row.from_status,
                to_status=row.to_status,
                comment=row.comment,
            )
            for row in data.history
        ],
        author_id=review.author_id,
        reviewed_by=review.reviewed_by,
        reviewed_at=review.reviewed_at,
        approved_by=review.approved_by,
        approved_at=review.approved_at,
        submitted_at=review.submitted_at,
        created_at=review.created_at,
        updated_at=review.updated_at,
        steps=[step.value for step in pir_approval.steps_for(review, caller, approvers)],
    )


@router.get("", response_model=ReviewPage)
async def list_reviews(
    caller: StaffCaller,
    db: DB,
    status: ReviewStatus | None = None,
    incident: Annotated[str | None, Query(max_length=50)] = None,
    page: PageNumber = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> ReviewPage:
    """Reviews, latest change first; filter by status and incident number."""
    async with db.read() as session:
        found = await pir_service.list_reviews(
            session=session,
            caller=caller,
            page=PageRequest(page, per_page),
            status=status,
            incident_number=incident,
        )
    return ReviewPage(
        items=[
            ReviewSummaryOut(
                id=review.id,
                incident_number=inc.number,
                title=review.title,
                level=LEVEL_LABELS[inc.level].en if inc.level in LEVEL_LABELS else inc.level,
                status=ReviewStatus(review.status),
                status_label=STATUS_LABELS[ReviewStatus(review.status)],
                required=review.required,
                updated_at=review.updated_at,
            )
            for review, inc in found.items
        ],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


@router.post("", status_code=201, response_model=ReviewOut)
async def create_review(
    body: ReviewCreate, caller: StaffCaller, db: DB, clock: ClockDep, request: Request
) -> ReviewOut:
    """Start the review of an incident (one per incident)."""
    settings = _settings(request)
    async with db.write() as session:
        review, incident = await pir_service.create_review(
            session=session,
            caller=caller,
            number=body.incident_number,
            now=clock.now(),
            settings=settings,
        )
        return await review_out(session, review, incident, caller, settings)


@router.get("/{review_id}", response_model=ReviewOut)
async def get_review(review_id: RowId, caller: StaffCaller, db: DB, request: Request) -> ReviewOut:
    """The review with its time summary (and sources), action items and history."""
    async with db.read() as session:
        review, incident = await pir_service.get_review(
            session=session, caller=caller, review_id=review_id
        )
        return await review_out(session, review, incident, caller, _settings(request))


@router.patch("/{review_id}", response_model=ReviewOut)
async def update_sections(
    review_id: RowId,
    body: ReviewSections,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
) -> ReviewOut:
    """Change sections (while draft or returned)."""
    async with db.write() as session:
        review, incident = await pir_editing.update_sections(
            session=session, caller=caller, review_id=review_id, data=body, now=clock.now()
        )
        return await review_out(session, review, incident, caller, _settings(request))


@router.patch("/{review_id}/times/{key}", response_model=ReviewOut)
async def edit_time(
    review_id: RowId,
    key: TimeKey,
    body: TimeEdit,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
) -> ReviewOut:
    """Set one time of the summary by hand, with the reason (kept with who and the old value)."""
    async with db.write() as session:
        review, incident = await pir_editing.edit_time(
            session=session,
            caller=caller,
            review_id=review_id,
            key=key,
            data=body,
            now=clock.now(),
        )
        return await review_out(session, review, incident, caller, _settings(request))


@router.post("/{review_id}/items", status_code=201, response_model=ReviewOut)
async def add_item(
    review_id: RowId,
    body: ActionItemCreate,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
) -> ReviewOut:
    """Add an action item; a task on the incident tracks it until done."""
    async with db.write() as session:
        _item, review, incident = await pir_editing.add_item(
            session=session, caller=caller, review_id=review_id, data=body, now=clock.now()
        )
        return await review_out(session, review, incident, caller, _settings(request))


@router.patch("/{review_id}/items/{item_id}", response_model=ReviewOut)
async def update_item(
    review_id: RowId,
    item_id: RowId,
    body: ActionItemUpdate,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
) -> ReviewOut:
    """Change an action item (and its task: title, assignee, due time)."""
    async with db.write() as session:
        _item, review, incident = await pir_editing.update_item(
            session=session,
            caller=caller,
            review_id=review_id,
            item_id=item_id,
            data=body,
            now=clock.now(),
        )
        return await review_out(session, review, incident, caller, _settings(request))


@router.delete("/{review_id}/items/{item_id}", status_code=204)
async def remove_item(
    review_id: RowId, item_id: RowId, caller: StaffCaller, db: DB, clock: ClockDep
) -> Response:
    """Remove an action item; its task, when still open, is cancelled."""
    async with db.write() as session:
        await pir_editing.remove_item(
            session=session, caller=caller, review_id=review_id, item_id=item_id, now=clock.now()
        )
    return Response(status_code=204)


@router.post("/{review_id}/actions/{step}", response_model=ReviewOut)
async def take_step(
    review_id: RowId,
    step: Step,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
    body: StepBody | None = None,
) -> ReviewOut:
    """submit (author or manager), review (assistant director), approve (director), return
    (with a comment, by whoever holds the review)."""
    settings = _settings(request)
    async with db.write() as session:
        review, incident = await pir_approval.take_step(
            session=session,
            caller=caller,
            review_id=review_id,
            step=step,
            comment=body.comment if body is not None else "",
            now=clock.now(),
            settings=settings,
        )
        return await review_out(session, review, incident, caller, settings)


EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The report",
        "content": {
            content_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
            for content_type in export.CONTENT_TYPES.values()
        },
    },
    501: {"description": "The format's extra (pdf, docx) is not installed"},
}


@router.get("/{review_id}/export", response_class=Response, responses=EXPORT_RESPONSES)
async def export_review(
    review_id: RowId,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    request: Request,
    format: export.ExportFormat = export.ExportFormat.PDF,
) -> Response:
    """The report as Markdown, HTML, PDF or DOCX, with the incident's timeline."""
    settings = _settings(request)
    async with db.read() as session:
        review, incident = await pir_service.get_review(
            session=session, caller=caller, review_id=review_id
        )
        report = export.build_report(
            await pir_service.bundle(session, review, incident), now=clock.now()
        )
    try:
        body = export.render(report, format, font=settings.pir_pdf_font)
    except export.ExportUnavailable as exc:
        return JSONResponse(
            error_body("export_unavailable", str(exc), "format", {"extra": exc.extra}),
            status_code=501,
        )
    name = report.file_name(format)
    return Response(
        content=body,
        media_type=export.CONTENT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
