"""The incident page: staff see the working view, end users the portal; and the forms on
it (actions, reply, internal note, work log, feedback, files, watching).

Routes only translate between HTML forms and services: every rule lives in the services.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from opsdesk.alerts import queries as alert_queries
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration import watchers as watcher_service
from opsdesk.collaboration.schemas import RATING_MAX, RATING_MIN, ConversationCreate, FeedbackSet
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.incidents import access, attachments
from opsdesk.incidents import actions as action_service
from opsdesk.incidents.fields import LEVEL_LABELS, SCALE_LABELS, Status, history_action_label
from opsdesk.incidents.lifecycle import HISTORY_KEYS, PUBLIC_ACTIONS, Action
from opsdesk.incidents.models import Incident
from opsdesk.incidents.params import parse_params
from opsdesk.relations import merging
from opsdesk.sla import display as sla_display
from opsdesk.web import (
    knowledge_section,
    link_view,
    major_section,
    pir_section,
    portal,
    status_section,
    suggestion_section,
    work_section,
)
from opsdesk.web.common import (
    CATALOG_FIELDS,
    FIELD_LABELS,
    STATUS_CLASSES,
    USER_FIELDS,
    FlashKind,
    _catalog_names,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _error_page,
    _flash,
    _level_class,
    _level_label,
    _name,
    _redirect,
    _render,
    _rules,
    _signed_in,
    _size,
    _status_label,
    _store_uploads,
    _text,
    _to_login,
    _uploads,
    _user_names,
)
from opsdesk.web.incident_view import (
    ACTION_BUTTONS,
    ACTION_FORMS,
    EDIT_GROUPS,
    FieldSpec,
    HistoryView,
    Names,
    action_input,
    detail_fields,
    history_view,
    one_click,
    plain_message,
    status_of_error,
    typed,
    user_ids_in,
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class FailedForm:
    """A form that was refused: shown again, open, with what was typed and why."""

    form_id: str
    values: dict[str, str]
    message: str


@dataclass(frozen=True)
class EditConflict:
    """Someone saved the incident after this form was opened: who, when, and what."""

    by: str
    at: datetime
    last: HistoryView | None


@dataclass(frozen=True)
class ActionForm:
    action: str
    button: str
    fields: tuple[FieldSpec, ...]
    open: bool
    one_click: bool


@dataclass(frozen=True)
class AttachmentView:
    id: int
    file_name: str
    size: str
    content_type: str
    context: str
    internal: bool
    uploader: str
    created_at: datetime
    url: str


def _choices(
    names: Names, staff: list[Any], groups: list[Any], scenes: list[Any]
) -> dict[str, Any]:
    def catalog(kind: Kind) -> list[tuple[str, str]]:
        return sorted(names.catalog[kind].items(), key=lambda item: item[1].casefold())

    return {
        "levels": [(key, label.en) for key, label in LEVEL_LABELS.items()],
        "categories": catalog(Kind.CATEGORY),
        "applications": catalog(Kind.APPLICATION),
        "regions": catalog(Kind.REGION),
        "scale": [(str(key), label.en) for key, label in SCALE_LABELS.items()],
        "staff": [(user.id, f"{user.name} ({user.email})") for user in staff],
        "workgroups": [(group.key, group.name) for group in groups if group.enabled],
        "shifts": [
            (f"{scene.key}/{role.key}", f"{scene.name} / {role.name}")
            for scene in scenes
            for role in scene.roles
        ],
    }


def _defaults(incident: Incident) -> dict[str, str]:
    """The current value of every form field, as the form writes it."""
    return {
        "title": incident.title,
        "description": incident.description,
        "category": incident.category or "",
        "application": incident.application or "",
        "region": incident.region or "",
        "impact": str(incident.impact or ""),
        "urgency": str(incident.urgency or ""),
        "service_interrupted": "yes" if incident.service_interrupted else "",
        "fault_occurred_at": (
            incident.fault_occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
            if incident.fault_occurred_at
            else ""
        ),
    }


async def incident_page(
    request: Request,
    caller: Caller,
    number: str,
    *,
    failed: FailedForm | None = None,
    editing: str | None = None,
    conflict: bool = False,
    status_code: int = 200,
) -> Response:
    """The page for this caller: the working view for staff, the portal for end users."""
    async with _db(request).read() as session:
        try:
            incident = await access.access_incident(session=session, caller=caller, number=number)
            history = await access.list_history(session=session, caller=caller, number=number)
            files = await attachments.list_attachments(
                session=session, caller=caller, number=number
            )
        except NotFound:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="Incident not found",
                message=f"There is no incident {number}, or you may not see it.",
            )
        feedback = None
        if caller.is_staff or caller.user_id == incident.reporter_id:
            with contextlib.suppress(NotFound):
                feedback = await collaboration.get_feedback(
                    session=session, caller=caller, number=number
                )
        watchers = await watcher_service.list_watchers(
            session=session, caller=caller, number=number
        )
        link_section = await link_view.section(session, caller, incident)
        staff_view = caller.is_staff
        clocks = (
            await sla_display.current_clocks_labelled(session, incident, now=_clock(request).now())
            if staff_view
            else []
        )
        work_minutes = (
            (
                await collaboration.list_work_logs(session=session, caller=caller, number=number)
            ).total_minutes
            if staff_view
            else None
        )
        staff = await auth_service.active_staff(session=session) if staff_view else []
        groups = (
            await assignment_workgroups.list_workgroups(session=session, caller=caller)
            if staff_view
            else []
        )
        scenes = (
            await assignment_shifts.list_scenes(session=session, caller=caller)
            if staff_view
            else []
        )
        alert_groups = (
            await alert_queries.list_groups(session=session, incident_id=incident.id, limit=20)
            if staff_view
            else []
        )
        work = await work_section.work_context(session, caller, incident, _clock(request).now())
        stakeholder = await status_section.status_context(session, caller, incident)
        review_section = await pir_section.review_context(
            session, caller, incident, request.app.state.settings
        )
        knowledge = await knowledge_section.knowledge_context(session, caller, incident)
        major_context = await major_section.section(
            session, caller, incident, request.app.state.settings
        )
        similar = await suggestion_section.similar_context(
            session,
            caller,
            incident,
            _clock(request).now(),
            embeddings=request.app.state.settings.suggest_embeddings,
        )
        merge_state = await merging.merge_state(
            session,
            incident=incident,
            now=_clock(request).now(),
            window=timedelta(hours=request.app.state.settings.unmerge_window_hours),
        )
        user_ids: list[str | None] = [
            incident.creator_id,
            incident.reporter_id,
            incident.assignee_id,
            incident.last_reopened_by,
            *user_ids_in(incident.assignment_note),
        ]
        user_ids += [item.uploader_id for item in files]
        for row in history:
            user_ids += [row.operator_id, *user_ids_in(row.comment)]
            for change in row.changes:
                if change.get("field") in USER_FIELDS:
                    user_ids += [change.get("old"), change.get("new")]
                if change.get("field") == "assignment_note":
                    user_ids += user_ids_in(str(change.get("new") or ""))
        names = Names(
            await _catalog_names(session, CATALOG_FIELDS.values()),
            await _user_names(session, user_ids),
            {group.key: group.name for group in groups},
        )
    available = action_service.available_actions(incident, caller)
    forms = [
        ActionForm(
            action=action.value,
            button=ACTION_BUTTONS[action],
            fields=ACTION_FORMS[action],
            open=failed is not None and failed.form_id == f"action-{action.value}",
            one_click=one_click(action),
        )
        for action in available
    ]
    views = [history_view(row, names) for row in reversed(history)]
    context: dict[str, Any] = {
        "incident": incident,
        "level_label": _level_label(incident.level),
        "level_class": _level_class(incident.level),
        "status_label": _status_label(incident.status),
        "status_class": STATUS_CLASSES.get(incident.status, "unknown"),
        "phase": action_service.phase_of_incident(incident).value,
        "phase_label": action_service.phase_label(incident),
        "requested_level": _level_label(incident.requested_level or ""),
        "action_forms": forms,
        "defaults": _defaults(incident),
        "failed": failed,
        "attachments": [
            AttachmentView(
                id=item.id,
                file_name=item.file_name,
                size=_size(item.size),
                content_type=item.content_type,
                context=item.context,
                internal=item.internal,
                uploader=_name(names.users, item.uploader_id),
                created_at=item.created_at,
                url=f"/api/v1/incidents/{incident.number}/attachments/{item.id}",
            )
            for item in files
        ],
        "attachment_room": _rules(request).attachment_max_count - len(files),
        "attachment_max": _size(_rules(request).attachment_max_bytes),
        "feedback": feedback,
        "can_give_feedback": caller.user_id == incident.reporter_id
        and incident.status in collaboration.FEEDBACK_STATUSES,
        "can_write": incident.status != Status.COMPLETED,
        "ratings": list(range(RATING_MIN, RATING_MAX + 1)),
        "watching": watchers.watching,
        **work,
        **stakeholder,
        **review_section,
        **knowledge,
        **major_context,
        **similar,
        "links": link_section,
        "merge_state": merge_state,
    }
    if not staff_view:
        context |= portal.portal_context(incident, history, names, available)
        return _render(
            request, "portal_incident.html", context, caller=caller, status_code=status_code
        )
    context |= {
        "fields": detail_fields(incident, names),
        "groups": {
            key: [
                (FIELD_LABELS[spec.name], names.value(spec.name, getattr(incident, spec.name)))
                for spec in group.fields
            ]
            for key, group in EDIT_GROUPS.items()
        },
        "edit_groups": EDIT_GROUPS,
        "editing": editing if editing in EDIT_GROUPS and context["can_write"] else None,
        "conflict": (
            EditConflict(
                by=views[0].operator if views else "someone",
                at=incident.updated_at,
                last=views[0] if views else None,
            )
            if conflict
            else None
        ),
        "sla": [
            {
                "target": view.target,
                "label": label,
                "state": view.state,
                "breached": view.breached,
                "percent": min(view.percent, 100.0),
                "due_at": view.due_at,
                "policy": view.policy,
            }
            for view, label in clocks
        ],
        "history": views,
        "choices": _choices(names, staff, groups, scenes),
        "work_minutes": work_minutes,
        "alert_groups": alert_groups,
        "watchers": [watchers.names.get(row.user_id, row.user_id) for row in watchers.items],
    }
    return _render(request, "incident_detail.html", context, caller=caller, status_code=status_code)


@router.get("/incidents/{number}")
async def incident_detail(request: Request, number: str, edit: str | None = None) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    return await incident_page(request, caller, number, editing=edit)


async def posted(request: Request) -> tuple[Caller | None, FormData | Response]:
    """The signed-in caller and the form, or the response that refuses it."""
    caller = await _signed_in(request)
    if caller is None:
        return None, _to_login(request)
    rules = _rules(request)
    form = await request.form(max_files=rules.attachment_max_count)
    if not _csrf_ok(request, form):
        return caller, _csrf_failed(request, caller)
    return caller, form


async def refused(
    request: Request,
    caller: Caller,
    number: str,
    form_id: str,
    form: FormData,
    exc: OpsdeskError | ValidationError,
    *,
    action: Action | None = None,
) -> Response:
    failed = FailedForm(form_id=form_id, values=typed(form), message=plain_message(exc, action))
    return await incident_page(
        request, caller, number, failed=failed, status_code=status_of_error(exc)
    )


def done(request: Request, number: str, message: str, *, kind: FlashKind = "success") -> Response:
    _flash(request, message, kind=kind)
    return _redirect(f"/incidents/{number}")


@router.post("/incidents/{number}/actions/{action}")
async def take_action(request: Request, number: str, action: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    try:
        chosen = Action(action)
    except ValueError:
        chosen = None
    if chosen is None or chosen not in PUBLIC_ACTIONS:
        return _error_page(
            request,
            caller=caller,
            status_code=404,
            title="No such action",
            message=f"There is no action {action!r}.",
        )
    try:
        params = parse_params(chosen, action_input(chosen, form))
        async with _db(request).write() as session:
            uploads = _uploads(form, "files") if chosen is Action.RESOLVE else []
            if uploads:
                ids = await _store_uploads(
                    request, session, caller, number, uploads, internal=False, context="solution"
                )
                params = params.model_copy(update={"attachment_ids": ids})
            incident = await action_service.take_action(
                session=session,
                caller=caller,
                number=number,
                action=chosen,
                params=params,
                now=_clock(request).now(),
                rules=_rules(request),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(
            request, caller, number, f"action-{chosen.value}", form, exc, action=chosen
        )
    if chosen is Action.WITHDRAW:
        return done(request, number, "You withdrew this report; nobody will work on it.")
    label = history_action_label(HISTORY_KEYS[chosen]).en
    return done(
        request,
        number,
        f"{label.capitalize()}: incident is {action_service.phase_label(incident)}.",
    )


async def _converse(request: Request, number: str, *, internal: bool) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    form_id = "note" if internal else "reply"
    try:
        data = ConversationCreate(body=_text(form, "body").replace("\r\n", "\n"), internal=internal)
        async with _db(request).write() as session:
            uploads = _uploads(form, "files")
            if uploads:
                ids = await _store_uploads(
                    request,
                    session,
                    caller,
                    number,
                    uploads,
                    internal=internal,
                    context="conversation",
                )
                data = data.model_copy(update={"attachment_ids": ids})
            await collaboration.add_conversation(
                session=session, caller=caller, number=number, data=data, now=_clock(request).now()
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, form_id, form, exc)
    if internal:
        return done(request, number, "Internal note added (staff only).")
    return done(request, number, "Reply sent." if caller.is_staff else "Message sent.")


@router.post("/incidents/{number}/reply")
async def reply(request: Request, number: str) -> Response:
    """A public reply: the requester sees it. Never internal, whatever the form says."""
    return await _converse(request, number, internal=False)


@router.post("/incidents/{number}/note")
async def note(request: Request, number: str) -> Response:
    """An internal note: staff only, from its own composer."""
    return await _converse(request, number, internal=True)


@router.post("/incidents/{number}/feedback")
async def feedback(request: Request, number: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    try:
        rating = _text(form, "rating").strip()
        if not rating.isdigit():
            raise ValidationFailed(
                f"rating: choose a rating from {RATING_MIN} to {RATING_MAX}", field="rating"
            )
        data = FeedbackSet(rating=int(rating), comment=_text(form, "comment").replace("\r\n", "\n"))
        async with _db(request).write() as session:
            await collaboration.give_feedback(
                session=session, caller=caller, number=number, data=data, now=_clock(request).now()
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, "feedback", form, exc)
    return done(request, number, "Thank you for your feedback.")


@router.post("/incidents/{number}/watch")
async def watch(request: Request, number: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    # The form says which way, so a stale page cannot toggle the wrong way.
    start = _text(form, "watch") != "no"
    try:
        async with _db(request).write() as session:
            if start:
                await watcher_service.watch(
                    session=session, caller=caller, number=number, now=_clock(request).now()
                )
            else:
                await watcher_service.unwatch(
                    session=session, caller=caller, number=number, now=_clock(request).now()
                )
    except OpsdeskError as exc:
        return await refused(request, caller, number, "watch", form, exc)
    return done(
        request,
        number,
        "You are watching this incident." if start else "You no longer watch this incident.",
    )


@router.post("/incidents/{number}/files")
async def upload_files(request: Request, number: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    uploads = _uploads(form, "files")
    internal = _text(form, "internal") == "yes"
    try:
        if not uploads:
            raise ValidationFailed("files: choose at least one file", field="files")
        async with _db(request).write() as session:
            await _store_uploads(
                request, session, caller, number, uploads, internal=internal, context="incident"
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, "files", form, exc)
    return done(request, number, f"{len(uploads)} file(s) attached.")
