"""The incident detail page and the forms on it: actions, replies, work logs, feedback, files,
watching.

Routes only translate between HTML forms and services: every rule lives in the services.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from opsdesk.alerts import queries as alert_queries
from opsdesk.assignment import service as assignment
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration import watchers as watcher_service
from opsdesk.collaboration.schemas import (
    RATING_MAX,
    RATING_MIN,
    ConversationCreate,
    FeedbackSet,
    WorkLogCreate,
)
from opsdesk.core.errors import Conflict, Forbidden, NotFound, OpsdeskError, ValidationFailed
from opsdesk.incidents import actions as action_service
from opsdesk.incidents import attachments
from opsdesk.incidents import service as incident_service
from opsdesk.incidents.fields import (
    CHANNEL_LABELS,
    LEVEL_LABELS,
    OWNERSHIP_LABELS,
    SCALE_LABELS,
    SOURCE_LABELS,
    Label,
    Status,
    history_action_label,
    history_row_label,
)
from opsdesk.incidents.lifecycle import HISTORY_KEYS, PUBLIC_ACTIONS, Action, SubStatus
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.sla import service as sla_service
from opsdesk.web.common import (
    CATALOG_FIELDS,
    EMPTY,
    FIELD_LABELS,
    OWNER_TYPE_LABELS,
    SESSION_FLASH_KEY,
    STATUS_CLASSES,
    USER_FIELDS,
    _catalog_names,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _error_page,
    _fault_time,
    _format_time,
    _label,
    _level_class,
    _level_label,
    _name,
    _owner,
    _pydantic_errors,
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

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ChangeView:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryView:
    time: datetime
    operator: str
    action: str
    status_label: str
    status_class: str
    comment: str
    internal: bool
    changes: list[ChangeView]


class _Names:
    """Turns stored keys into what a person reads, for fields and history values."""

    def __init__(
        self,
        catalog: Mapping[Kind, Mapping[str, str]],
        users: Mapping[str, str],
        workgroups: Mapping[str, str] | None = None,
    ) -> None:
        self.catalog = catalog
        self.users = users
        self.workgroups = workgroups or {}

    def value(self, name: str, raw: Any) -> str:
        if raw is None or raw == "":
            return EMPTY
        if isinstance(raw, bool):
            return "Yes" if raw else "No"
        text = str(raw)
        if name in CATALOG_FIELDS:
            return _name(self.catalog[CATALOG_FIELDS[name]], text)
        if name in USER_FIELDS:
            return _name(self.users, text)
        if name in ("level", "requested_level"):
            return _level_label(text)
        if name == "workgroup":
            return self.workgroups.get(text, text)
        if name == "sub_status":
            return SUB_STATUS_LABELS.get(text, text)
        if name == "status":
            return _status_label(text)
        if name in ("impact", "urgency") and isinstance(raw, int):
            label = SCALE_LABELS.get(raw)
            return label.en if label is not None else text
        if name in ("fault_occurred_at", "fault_recovery_at", "pause_until"):
            try:
                return _format_time(datetime.fromisoformat(text))
            except ValueError:
                return text
        labels: dict[str, Mapping[Any, Label]] = {
            "ownership": OWNERSHIP_LABELS,
            "source": SOURCE_LABELS,
            "channel": CHANNEL_LABELS,
        }
        if name in labels:
            return _label(labels[name], text)
        if name == "owner_type":
            return OWNER_TYPE_LABELS.get(text, text)
        return text


def _history_view(row: IncidentHistory, names: _Names) -> HistoryView:
    return HistoryView(
        time=row.start_time,
        operator=_name(names.users, row.operator_id) if row.operator_id else "System",
        action=history_row_label(row.action, row.changes).en,
        status_label=_status_label(row.status),
        status_class=STATUS_CLASSES.get(row.status, "unknown"),
        comment=row.comment,
        internal=row.internal,
        changes=[
            ChangeView(
                field=FIELD_LABELS.get(str(change.get("field")), str(change.get("field"))),
                old=names.value(str(change.get("field")), change.get("old")),
                new=names.value(str(change.get("field")), change.get("new")),
            )
            for change in row.changes
        ],
    )


def _detail_fields(incident: Incident, names: _Names) -> list[tuple[str, str]]:
    return [
        ("Impact", names.value("impact", incident.impact)),
        ("Urgency", names.value("urgency", incident.urgency)),
        ("Category", names.value("category", incident.category)),
        ("Application", names.value("application", incident.application)),
        ("Region", names.value("region", incident.region)),
        ("Enterprise project", names.value("enterprise_project", incident.enterprise_project)),
        ("Ownership", names.value("ownership", incident.ownership)),
        ("Fault occurred at", _format_time(incident.fault_occurred_at)),
        ("Service interrupted", "Yes" if incident.service_interrupted else "No"),
        ("Workgroup", names.workgroups.get(incident.workgroup or "", incident.workgroup or EMPTY)),
        ("Assignee", _owner(incident, names.users)),
        ("Assigned because", incident.assignment_note or EMPTY),
        ("Source", names.value("source", incident.source)),
        ("Channel", names.value("channel", incident.channel)),
        ("Reporter", _name(names.users, incident.reporter_id)),
        ("Created by", _name(names.users, incident.creator_id)),
        ("Created", _format_time(incident.created_at)),
        ("Updated", _format_time(incident.updated_at)),
        ("Version", str(incident.version)),
    ]


# --- the work on an incident: action forms, replies, work logs, feedback, files ------------


@dataclass(frozen=True)
class FieldSpec:
    """One input of an action form; ``kind`` picks the widget and how the value is read."""

    name: str
    label: str
    kind: str  # text, textarea, datetime, checkbox, yesno, select, files
    required: bool = False
    choices: str = ""  # for selects: levels, categories or staff
    hint: str = ""


SUB_STATUS_LABELS: dict[str, str] = {
    SubStatus.PAUSE_REQUESTED: "Pause requested",
    SubStatus.PAUSED: "On hold",
    SubStatus.LEVEL_CHANGE_REQUESTED: "Level change requested",
}
_COMMENT = FieldSpec("comment", "Comment", "textarea")
ACTION_FORMS: dict[Action, tuple[FieldSpec, ...]] = {
    Action.ACCEPT: (_COMMENT,),
    Action.REJECT: (FieldSpec("reason", "Reason", "textarea", required=True),),
    Action.FORWARD: (
        FieldSpec("workgroup", "To workgroup", "select", choices="workgroups"),
        FieldSpec("assignee_id", "To person", "select", choices="staff"),
        FieldSpec(
            "shift",
            "To shift",
            "select",
            choices="shifts",
            hint="A group alone picks a member by its strategy; a shift goes to who is on duty.",
        ),
        FieldSpec("comment", "Why", "textarea", required=True),
    ),
    Action.REMARK: (FieldSpec("note", "Remark", "textarea", required=True),),
    Action.PAUSE: (
        FieldSpec("reason", "Reason", "textarea", required=True),
        FieldSpec("until", "Planned end (UTC)", "datetime", required=True),
    ),
    Action.APPROVE: (_COMMENT,),
    Action.DENY: (_COMMENT,),
    Action.RESUME: (_COMMENT,),
    Action.CHANGE_LEVEL: (
        FieldSpec(
            "level",
            "New level",
            "select",
            required=True,
            choices="levels",
            hint="Raising applies at once; lowering waits for an incident manager.",
        ),
        FieldSpec("comment", "Why", "textarea", required=True),
    ),
    Action.RESOLVE: (
        FieldSpec("cause", "Cause", "textarea", required=True),
        FieldSpec("solution", "Solution", "textarea", required=True),
        FieldSpec("category", "Category", "select", choices="categories"),
        FieldSpec("service_interrupted", "The service was interrupted", "checkbox"),
        FieldSpec("fault_occurred_at", "Fault occurred at (UTC)", "datetime"),
        FieldSpec("fault_recovery_time", "Service recovered at (UTC)", "datetime"),
        FieldSpec("files", "Attachments", "files", hint="JPG, PNG, PDF, DOCX or TXT"),
    ),
    Action.CONFIRM: (
        FieldSpec("accepted", "Is the problem solved?", "yesno", required=True),
        FieldSpec("comment", "Comment", "textarea", hint="Required when it is not solved."),
    ),
    Action.REOPEN: (FieldSpec("reason", "Reason", "textarea", required=True),),
    Action.CLOSE: (_COMMENT,),
}
ACTION_BUTTONS: dict[Action, str] = {
    Action.ACCEPT: "Accept",
    Action.REJECT: "Reject",
    Action.FORWARD: "Forward",
    Action.REMARK: "Add remark",
    Action.PAUSE: "Request pause",
    Action.APPROVE: "Approve request",
    Action.DENY: "Deny request",
    Action.RESUME: "Resume",
    Action.CHANGE_LEVEL: "Change level",
    Action.RESOLVE: "Resolve",
    Action.CONFIRM: "Confirm resolution",
    Action.REOPEN: "Reopen",
    Action.CLOSE: "Close",
}
HTTP_STATUS: dict[type[OpsdeskError], int] = {
    ValidationFailed: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
}


@dataclass(frozen=True)
class FailedForm:
    """A form that was refused: shown again, open, with what was typed and why."""

    form_id: str
    values: Mapping[str, str]
    message: str


@dataclass(frozen=True)
class ActionForm:
    action: str
    button: str
    fields: tuple[FieldSpec, ...]
    open: bool


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


def _action_input(action: Action, form: FormData) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in ACTION_FORMS[action]:
        raw = _text(form, spec.name).replace("\r\n", "\n")
        if spec.kind == "files":
            continue
        if spec.kind == "checkbox":
            data[spec.name] = raw in ("yes", "on", "true")
        elif not raw.strip():
            continue
        elif spec.kind == "datetime":
            data[spec.name] = _fault_time(raw, spec.name)
        elif spec.kind == "yesno":
            data[spec.name] = raw == "yes"
        elif spec.name == "shift":
            # One select carries a shift as "scene/role" (the keys allow no slash).
            data["assignee_scene"], _, data["assignee_role"] = raw.partition("/")
        else:
            data[spec.name] = raw
    return data


def _typed(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


async def _incident_page(
    request: Request,
    caller: Caller,
    number: str,
    *,
    failed: FailedForm | None = None,
    status_code: int = 200,
) -> Response:
    async with _db(request).read() as session:
        try:
            incident = await incident_service.access_incident(
                session=session, caller=caller, number=number
            )
            history = await incident_service.list_history(
                session=session, caller=caller, number=number
            )
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
        clocks = await sla_service.current_clocks_labelled(
            session, incident, now=_clock(request).now()
        )
        alert_groups = (
            await alert_queries.list_groups(session=session, incident_id=incident.id, limit=20)
            if caller.is_staff
            else []
        )
        work_minutes = None
        if caller.is_staff:
            work_minutes = (
                await collaboration.list_work_logs(session=session, caller=caller, number=number)
            ).total_minutes
        staff = await auth_service.active_staff(session=session) if caller.is_staff else []
        groups = (
            await assignment.list_workgroups(session=session, caller=caller)
            if caller.is_staff
            else []
        )
        scenes = (
            await assignment.list_scenes(session=session, caller=caller) if caller.is_staff else []
        )
        user_ids: list[str | None] = [
            incident.creator_id,
            incident.reporter_id,
            incident.assignee_id,
            incident.last_reopened_by,
        ]
        user_ids += [item.uploader_id for item in files]
        for row in history:
            user_ids.append(row.operator_id)
            for change in row.changes:
                if change.get("field") in USER_FIELDS:
                    user_ids += [change.get("old"), change.get("new")]
        names = _Names(
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
        )
        for action in available
    ]
    choices = {
        "levels": [(key, label.en) for key, label in LEVEL_LABELS.items()],
        "categories": sorted(
            names.catalog[Kind.CATEGORY].items(), key=lambda item: item[1].casefold()
        ),
        "staff": [(user.id, f"{user.name} ({user.email})") for user in staff],
        "workgroups": [(group.key, group.name) for group in groups if group.enabled],
        "shifts": [
            (f"{scene.key}/{role.key}", f"{scene.name} / {role.name}")
            for scene in scenes
            for role in scene.roles
        ],
    }
    defaults = {
        "category": incident.category or "",
        "service_interrupted": "yes" if incident.service_interrupted else "",
        "fault_occurred_at": (
            incident.fault_occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
            if incident.fault_occurred_at
            else ""
        ),
    }
    phase = action_service.phase_of_incident(incident)
    return _render(
        request,
        "incident_detail.html",
        {
            "incident": incident,
            "level_label": _level_label(incident.level),
            "level_class": _level_class(incident.level),
            "status_label": _status_label(incident.status),
            "status_class": STATUS_CLASSES.get(incident.status, "unknown"),
            "phase": phase.value,
            "phase_label": action_service.phase_label(incident),
            "requested_level": _level_label(incident.requested_level or ""),
            "fields": _detail_fields(incident, names),
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
            "history": [_history_view(row, names) for row in reversed(history)],
            "alert_groups": alert_groups,
            "action_forms": forms,
            "choices": choices,
            "defaults": defaults,
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
            "work_minutes": work_minutes,
            "ratings": list(range(RATING_MIN, RATING_MAX + 1)),
            "watching": watchers.watching,
            "watchers": [watchers.names.get(row.user_id, row.user_id) for row in watchers.items],
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/incidents/{number}")
async def incident_detail(request: Request, number: str) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    return await _incident_page(request, caller, number)


async def _posted(request: Request) -> tuple[Caller | None, FormData | Response]:
    """The signed-in caller and the form, or the response that refuses it."""
    caller = await _signed_in(request)
    if caller is None:
        return None, _to_login(request)
    rules = _rules(request)
    form = await request.form(max_files=rules.attachment_max_count)
    if not _csrf_ok(request, form):
        return caller, _csrf_failed(request, caller)
    return caller, form


async def _refused(
    request: Request, caller: Caller, number: str, form_id: str, form: FormData, exc: Exception
) -> Response:
    if isinstance(exc, ValidationError):
        messages, _fields = _pydantic_errors(exc)
        message = "; ".join(messages)
        status_code = 422
    else:
        assert isinstance(exc, OpsdeskError)
        message = exc.message
        status_code = next(
            (code for kind, code in HTTP_STATUS.items() if isinstance(exc, kind)), 400
        )
    failed = FailedForm(form_id=form_id, values=_typed(form), message=message)
    return await _incident_page(request, caller, number, failed=failed, status_code=status_code)


def _done(request: Request, number: str, message: str) -> Response:
    request.session[SESSION_FLASH_KEY] = message
    return _redirect(f"/incidents/{number}")


@router.post("/incidents/{number}/actions/{action}")
async def take_action(request: Request, number: str, action: str) -> Response:
    caller, form = await _posted(request)
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
        params = action_service.parse_params(chosen, _action_input(chosen, form))
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
        return await _refused(request, caller, number, f"action-{chosen.value}", form, exc)
    label = history_action_label(HISTORY_KEYS[chosen]).en
    return _done(
        request,
        number,
        f"{label.capitalize()}: incident is {action_service.phase_label(incident)}.",
    )


@router.post("/incidents/{number}/reply")
async def reply(request: Request, number: str) -> Response:
    caller, form = await _posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    internal = _text(form, "internal") == "yes"
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
        return await _refused(request, caller, number, "reply", form, exc)
    return _done(request, number, "Internal note added." if internal else "Reply sent.")


@router.post("/incidents/{number}/worklog")
async def work_log(request: Request, number: str) -> Response:
    caller, form = await _posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    try:
        minutes = _text(form, "time_spent_minutes").strip()
        if not minutes.isdigit():
            raise ValidationFailed(
                "time_spent_minutes: enter the time spent in whole minutes",
                field="time_spent_minutes",
            )
        data = WorkLogCreate(
            description=_text(form, "description").replace("\r\n", "\n"),
            time_spent_minutes=int(minutes),
            started_at=_fault_time(_text(form, "started_at"), "started_at"),
        )
        async with _db(request).write() as session:
            await collaboration.add_work_log(
                session=session,
                caller=caller,
                number=number,
                data=data,
                now=_clock(request).now(),
                rules=_rules(request),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await _refused(request, caller, number, "worklog", form, exc)
    return _done(request, number, f"Work logged: {int(minutes)} min.")


@router.post("/incidents/{number}/feedback")
async def feedback(request: Request, number: str) -> Response:
    caller, form = await _posted(request)
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
        return await _refused(request, caller, number, "feedback", form, exc)
    return _done(request, number, "Thank you for your feedback.")


@router.post("/incidents/{number}/watch")
async def watch(request: Request, number: str) -> Response:
    caller, form = await _posted(request)
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
        return await _refused(request, caller, number, "watch", form, exc)
    return _done(
        request,
        number,
        "You are watching this incident." if start else "You no longer watch this incident.",
    )


@router.post("/incidents/{number}/files")
async def upload_files(request: Request, number: str) -> Response:
    caller, form = await _posted(request)
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
        return await _refused(request, caller, number, "files", form, exc)
    return _done(request, number, f"{len(uploads)} file(s) attached.")
