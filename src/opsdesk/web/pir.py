"""Post-incident reviews in the console: ``/reviews`` and ``/reviews/{id}`` (sections, the
time summary with its sources and edit-with-reason forms, action items, workflow buttons,
export links), and starting a review from the incident page.

Routes only translate between HTML forms and the services in ``reviews.pir_service``,
``pir_editing`` and ``pir_approval``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.core.bounds import RowId
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.core.pagination import PageRequest
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import HISTORY_ACTION_LABELS, LEVEL_LABELS
from opsdesk.reviews import export, pir_approval, pir_editing, pir_service, time_summary
from opsdesk.reviews.pir_schemas import (
    ActionItemCreate,
    Priority,
    ReviewSections,
    TimeEdit,
    TimeKey,
)
from opsdesk.reviews.pir_workflow import STATUS_LABELS, STEP_LABELS, ReviewStatus, Step
from opsdesk.web.common import (
    FlashKind,
    _clock,
    _db,
    _error_page,
    _fault_time,
    _flash,
    _posted,
    _redirect,
    _render,
    _signed_in,
    _text,
    _to_login,
    page_links,
)
from opsdesk.web.incident_page import refused
from opsdesk.web.incident_view import refused_on_page

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
SECTION_FIELDS = (
    ("description", "Incident description", "A brief description with links (wiki, tickets)."),
    ("client_impact", "Client impact", "Was there business client impact, and for how long?"),
    ("resolution", "Incident resolution", "The steps that resolved it; why it should not recur."),
    ("worked_well", "What worked well", "What worked and what we learned."),
    ("did_not_work", "What didn't work well", "What could be better, said objectively."),
    ("recommendations", "Recommendations", "Concrete steps that would prevent it."),
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _staff_only(request: Request, caller: Caller) -> Response | None:
    if caller.is_staff:
        return None
    return _error_page(
        request,
        caller=caller,
        status_code=403,
        title="Staff only",
        message="Post-incident reviews are for staff.",
    )


def _done(
    request: Request,
    review_id: int,
    message: str,
    anchor: str = "",
    *,
    kind: FlashKind = "success",
) -> Response:
    _flash(request, message, kind=kind)
    return _redirect(f"/reviews/{review_id}{anchor}")


@router.get("/reviews")
async def review_list(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if (refusal := _staff_only(request, caller)) is not None:
        return refusal
    query = request.query_params
    status_raw = query.get("status", "")
    status = ReviewStatus(status_raw) if status_raw in set(ReviewStatus) else None
    try:
        page = min(max(1, int(query.get("page", "1"))), 100_000)
    except ValueError:
        page = 1
    async with _db(request).read() as session:
        found = await pir_service.list_reviews(
            session=session, caller=caller, page=PageRequest(page, PER_PAGE), status=status
        )
    rows = [
        {
            "id": review.id,
            "title": review.title,
            "number": incident.number,
            "level": LEVEL_LABELS[incident.level].en
            if incident.level in LEVEL_LABELS
            else incident.level,
            "status": review.status,
            "status_label": STATUS_LABELS[ReviewStatus(review.status)],
            "required": review.required,
            "updated_at": review.updated_at,
        }
        for review, incident in found.items
    ]

    def url(**change: str) -> str:
        params = {"status": status_raw if status else "", **change}
        return "/reviews?" + urlencode({k: v for k, v in params.items() if v})

    return _render(
        request,
        "pir_list.html",
        {
            "rows": rows,
            "total": found.total,
            "status": status_raw if status else "",
            "statuses": [(s.value, label) for s, label in STATUS_LABELS.items()],
            **page_links(lambda n: url(page=str(n)), page, PER_PAGE, found.total),
        },
        caller=caller,
    )


async def _review_page(
    request: Request,
    caller: Caller,
    review_id: int,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    settings = _settings(request)
    async with _db(request).read() as session:
        try:
            review, incident = await pir_service.get_review(
                session=session, caller=caller, review_id=review_id
            )
        except NotFound:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="Review not found",
                message=f"There is no post-incident review {review_id}.",
            )
        data = await pir_service.bundle(session, review, incident)
        staff = await auth_service.active_staff(session=session)
    report = export.build_report(data, now=_clock(request).now())
    names = data.names
    times = []
    for key, row in zip(time_summary.KEYS, report.times, strict=True):
        entry = review.time_summary.get(key) or {}
        edited = entry.get("edited") or {}
        action = str(entry.get("source_action") or "")
        label = HISTORY_ACTION_LABELS.get(action)
        times.append(
            {
                "key": key,
                "label": row.label,
                "shown": f"{row.date} {row.time}" if row.date != "—" else "—",
                "value": str(entry.get("value") or "")[:16],
                "source_id": entry.get("source_id"),
                "source_label": label.en if label is not None else action,
                "edited": edited,
                "edited_by": names.get(edited.get("by", ""), edited.get("by", "")),
            }
        )
    approvers = pir_approval.approvers_of(settings)
    steps = pir_approval.steps_for(review, caller, approvers)
    return _render(
        request,
        "pir_detail.html",
        {
            "review": review,
            "incident": incident,
            "report": report,
            "status_label": data.status_label,
            "level_label": data.level_label,
            "times": times,
            "impact": report.impact,
            "sections": [
                (field, label, hint, getattr(review, field))
                for field, label, hint in SECTION_FIELDS
            ],
            "items": report.items,
            "item_ids": [item.id for item in data.items],
            "history": [
                {
                    "action": row.action,
                    "who": names.get(row.actor_id or "", "system") if row.actor_id else "system",
                    "at": row.at,
                    "from": row.from_status,
                    "to": row.to_status,
                    "comment": row.comment,
                }
                for row in reversed(data.history)
            ],
            "steps": [(step.value, STEP_LABELS[step]) for step in steps],
            "can_edit": pir_editing.may_edit(review, caller),
            "can_edit_items": pir_editing.may_edit_items(review, caller),
            "staff": [(user.id, user.name) for user in staff],
            "priorities": [p.value for p in Priority],
            "formats": [
                (f.value, f.value.upper(), export.available(f)) for f in export.ExportFormat
            ],
            "failed": failed,
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/reviews/{review_id}")
async def review_detail(request: Request, review_id: RowId) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if (refusal := _staff_only(request, caller)) is not None:
        return refusal
    return await _review_page(request, caller, review_id)


@router.post("/reviews/{review_id}/sections")
async def save_sections(request: Request, review_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    values = {
        field: _text(form, field).replace("\r\n", "\n")
        for field in ("title", *(f for f, _l, _h in SECTION_FIELDS))
        if field in form
    }
    try:
        data = ReviewSections.model_validate(values)
        async with _db(request).write() as session:
            await pir_editing.update_sections(
                session=session,
                caller=caller,
                review_id=review_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused_on_page(_review_page, request, caller, review_id, "sections", exc)
    return _done(request, review_id, "Review saved.")


@router.post("/reviews/{review_id}/times/{key}")
async def edit_time(request: Request, review_id: RowId, key: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        time_key = TimeKey(key) if key in set(TimeKey) else None
        if time_key is None:
            raise NotFound(f"no time {key} in the summary", field="key")
        raw = _text(form, "value")
        data = TimeEdit.model_validate(
            {
                "value": _fault_time(raw, "value") if raw.strip() else None,
                "reason": _text(form, "reason"),
            }
        )
        async with _db(request).write() as session:
            await pir_editing.edit_time(
                session=session,
                caller=caller,
                review_id=review_id,
                key=time_key,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused_on_page(_review_page, request, caller, review_id, f"time-{key}", exc)
    return _done(request, review_id, "Time changed.", "#times")


@router.post("/reviews/{review_id}/items")
async def add_item(request: Request, review_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        due = _text(form, "due_at")
        data = ActionItemCreate.model_validate(
            {
                "action": _text(form, "action"),
                "responsibility": _text(form, "responsibility"),
                "assignee_id": _text(form, "assignee_id") or None,
                "priority": _text(form, "priority") or "medium",
                "due_at": _fault_time(due, "due_at") if due.strip() else None,
            }
        )
        async with _db(request).write() as session:
            await pir_editing.add_item(
                session=session,
                caller=caller,
                review_id=review_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused_on_page(_review_page, request, caller, review_id, "item-add", exc)
    return _done(request, review_id, "Action item added (tracked as a task).", "#items")


@router.post("/reviews/{review_id}/items/{item_id}/remove")
async def remove_item(request: Request, review_id: RowId, item_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, _form = posted
    try:
        async with _db(request).write() as session:
            await pir_editing.remove_item(
                session=session,
                caller=caller,
                review_id=review_id,
                item_id=item_id,
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return await refused_on_page(_review_page, request, caller, review_id, "items", exc)
    return _done(request, review_id, "Action item removed.", "#items")


@router.post("/reviews/{review_id}/steps/{step}")
async def take_step(request: Request, review_id: RowId, step: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        if step not in set(Step):
            raise NotFound(f"no workflow step {step}", field="step")
        async with _db(request).write() as session:
            review, _incident = await pir_approval.take_step(
                session=session,
                caller=caller,
                review_id=review_id,
                step=Step(step),
                comment=_text(form, "comment").strip(),
                now=_clock(request).now(),
                settings=_settings(request),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused_on_page(_review_page, request, caller, review_id, "steps", exc)
    label = STATUS_LABELS[ReviewStatus(review.status)].lower()
    return _done(request, review_id, f"The review is {label}.")


@router.post("/incidents/{number}/review")
async def start_review(request: Request, number: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        async with _db(request).write() as session:
            review, _incident = await pir_service.create_review(
                session=session,
                caller=caller,
                number=number,
                now=_clock(request).now(),
                settings=_settings(request),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, "review-start", form, exc)
    return _done(request, review.id, "Review started.")
