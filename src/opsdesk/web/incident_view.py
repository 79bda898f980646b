"""What the incident page shows, in words: field and history labels, action forms, the
timeline with names instead of ids, and service errors as sentences a person reads."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from opsdesk.auth.roles import Caller
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    OpsdeskError,
    PreconditionFailed,
    ValidationFailed,
)
from opsdesk.incidents.fields import (
    CHANNEL_LABELS,
    OWNERSHIP_LABELS,
    SCALE_LABELS,
    SOURCE_LABELS,
    HistoryAction,
    Label,
    history_row_label,
)
from opsdesk.incidents.lifecycle import Action, SubStatus
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.web.common import (
    CATALOG_FIELDS,
    EMPTY,
    FIELD_LABELS,
    OWNER_TYPE_LABELS,
    STATUS_CLASSES,
    USER_FIELDS,
    _fault_time,
    _format_time,
    _label,
    _level_label,
    _name,
    _owner,
    _pydantic_errors,
    _status_label,
    _text,
)

SUB_STATUS_LABELS: dict[str, str] = {
    SubStatus.PAUSE_REQUESTED: "Pause requested",
    SubStatus.PAUSED: "On hold",
    SubStatus.LEVEL_CHANGE_REQUESTED: "Level change requested",
}
SLA_TARGET_LABELS = {"response": "response", "resolution": "resolution"}
# Stored user ids (32 hex digits) inside free text such as an assignment note.
_USER_ID = re.compile(r"\b[0-9a-f]{32}\b")


class Names:
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
        if name == "assignment_note":
            return self.with_names(text)
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

    def with_names(self, text: str) -> str:
        """Free text with every known user id replaced by the person's name."""
        return _USER_ID.sub(lambda match: self.users.get(match.group(0), match.group(0)), text)


def user_ids_in(text: str | None) -> list[str]:
    return _USER_ID.findall(text or "")


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
    kind: str  # the stored action key, for styling and for the portal's choice of words
    id: int = 0  # the row's id: the anchor a review's time summary links its sources to


def _sla_title(row: IncidentHistory) -> str | None:
    """``SLA response breached`` / ``SLA resolution warning at 80 %`` for an SLA row."""
    if row.action not in (HistoryAction.SLA_WARNING, HistoryAction.SLA_BREACH):
        return None
    values = {str(change.get("field")): change.get("new") for change in row.changes}
    target = SLA_TARGET_LABELS.get(str(values.get("sla_target")), str(values.get("sla_target")))
    if row.action == HistoryAction.SLA_BREACH:
        return f"SLA {target} breached"
    percent = values.get("sla_percent")
    at = f" at {float(percent):.0f} %" if isinstance(percent, int | float) else ""
    return f"SLA {target} warning{at}"


def history_view(row: IncidentHistory, names: Names) -> HistoryView:
    sla_title = _sla_title(row)
    changes = [] if sla_title is not None else row.changes
    return HistoryView(
        id=row.id,
        time=row.start_time,
        operator=_name(names.users, row.operator_id) if row.operator_id else "System",
        action=sla_title or history_row_label(row.action, row.changes).en,
        status_label=_status_label(row.status),
        status_class=STATUS_CLASSES.get(row.status, "unknown"),
        comment=names.with_names(row.comment),
        internal=row.internal,
        changes=[
            ChangeView(
                field=FIELD_LABELS.get(str(change.get("field")), str(change.get("field"))),
                old=names.value(str(change.get("field")), change.get("old")),
                new=names.value(str(change.get("field")), change.get("new")),
            )
            for change in changes
        ],
        kind=row.action,
    )


def detail_fields(incident: Incident, names: Names) -> list[tuple[str, str]]:
    """The read-only facts of the staff page; editable ones are in ``EDIT_GROUPS``."""
    return [
        ("Enterprise project", names.value("enterprise_project", incident.enterprise_project)),
        ("Ownership", names.value("ownership", incident.ownership)),
        ("Workgroup", names.workgroups.get(incident.workgroup or "", incident.workgroup or EMPTY)),
        ("Assignee", _owner(incident, names.users)),
        ("Assigned because", names.value("assignment_note", incident.assignment_note)),
        ("Source", names.value("source", incident.source)),
        ("Channel", names.value("channel", incident.channel)),
        ("Reporter", _name(names.users, incident.reporter_id)),
        ("Created by", _name(names.users, incident.creator_id)),
        ("Created", _format_time(incident.created_at)),
        ("Updated", _format_time(incident.updated_at)),
    ]


# --- forms: actions and field edits ------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One input of a form; ``kind`` picks the widget and how the value is read."""

    name: str
    label: str
    kind: str  # text, textarea, datetime, checkbox, yesno, select, scale, files, override
    required: bool = False
    choices: str = ""  # for selects: levels, categories, applications, regions, staff, ...
    hint: str = ""


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
        FieldSpec("fault_recovery_at", "Service recovered at (UTC)", "datetime"),
        FieldSpec("files", "Attachments", "files", hint="JPG, PNG, PDF, DOCX or TXT"),
        # Shown only while tasks or work orders are open, with what is open.
        FieldSpec(
            "override_open_work",
            "Resolve anyway, although this work is still open (recorded in the history)",
            "override",
        ),
    ),
    Action.CONFIRM: (
        FieldSpec("accepted", "Is the problem solved?", "yesno", required=True),
        FieldSpec("comment", "Comment", "textarea", hint="Required when it is not solved."),
    ),
    Action.REOPEN: (FieldSpec("reason", "Reason", "textarea", required=True),),
    Action.CLOSE: (_COMMENT,),
    Action.WITHDRAW: (FieldSpec("comment", "Why (optional)", "textarea"),),
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
    Action.WITHDRAW: "Withdraw my report",
}
# What each action does, in words, for a refusal ("You may not accept this incident").
ACTION_VERBS: dict[Action, str] = {
    Action.ACCEPT: "accept this incident",
    Action.REJECT: "reject this incident",
    Action.FORWARD: "forward this incident",
    Action.REMARK: "add a remark",
    Action.PAUSE: "request a pause",
    Action.APPROVE: "approve this request",
    Action.DENY: "deny this request",
    Action.RESUME: "resume this incident",
    Action.CHANGE_LEVEL: "change the level",
    Action.RESOLVE: "resolve this incident",
    Action.CONFIRM: "confirm the resolution",
    Action.REOPEN: "reopen this incident",
    Action.CLOSE: "close this incident",
    Action.WITHDRAW: "withdraw this incident",
}


def one_click(action: Action) -> bool:
    """No parameter is needed: the button acts at once, with no form to open first."""
    return all(not spec.required and spec.kind != "files" for spec in ACTION_FORMS[action])


@dataclass(frozen=True)
class EditGroup:
    """Fields edited together, in place, with one form and one If-Match version."""

    key: str
    title: str
    fields: tuple[FieldSpec, ...]


EDIT_GROUPS: dict[str, EditGroup] = {
    group.key: group
    for group in (
        EditGroup(
            "summary",
            "Title and description",
            (
                FieldSpec("title", "Title", "text", required=True),
                FieldSpec("description", "Description", "textarea"),
            ),
        ),
        EditGroup(
            "classification",
            "Classification",
            (
                FieldSpec("category", "Category", "select", choices="categories"),
                FieldSpec("application", "Application", "select", choices="applications"),
                FieldSpec("region", "Region", "select", choices="regions"),
                FieldSpec("impact", "Impact", "select", choices="scale"),
                FieldSpec("urgency", "Urgency", "select", choices="scale"),
            ),
        ),
        EditGroup(
            "fault",
            "Fault",
            (
                FieldSpec("fault_occurred_at", "Fault occurred at (UTC)", "datetime"),
                FieldSpec("service_interrupted", "The service was interrupted", "checkbox"),
            ),
        ),
    )
}


def edit_input(group: EditGroup, form: FormData) -> dict[str, Any]:
    """The typed values of an edit form as ``IncidentUpdate`` input; empty clears a field.

    Only fields changed from what the form showed (``was-<name>``) are sent, so keeping
    mine after a conflict overwrites what I changed, not what the other person did."""
    data: dict[str, Any] = {}
    for spec in group.fields:
        raw = _text(form, spec.name).replace("\r\n", "\n")
        was = form.get(f"was-{spec.name}")
        if isinstance(was, str) and was.replace("\r\n", "\n") == raw:
            continue
        if spec.kind == "checkbox":
            data[spec.name] = raw in ("yes", "on", "true")
        elif spec.kind == "datetime":
            data[spec.name] = _fault_time(raw, spec.name) if raw.strip() else None
        elif spec.choices == "scale":
            data[spec.name] = int(raw) if raw.strip().isdigit() else None
        elif spec.name == "description":
            data[spec.name] = raw
        else:
            data[spec.name] = raw.strip() or None
    return data


def action_input(action: Action, form: FormData) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in ACTION_FORMS[action]:
        raw = _text(form, spec.name).replace("\r\n", "\n")
        if spec.kind == "files":
            continue
        if spec.kind in ("checkbox", "override"):
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


def typed(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


# --- errors in the user's words ----------------------------------------------------------

HTTP_STATUS: dict[type[OpsdeskError], int] = {
    ValidationFailed: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    PreconditionFailed: 412,
}
# Whole service messages that have a better sentence, by how they start.
_SENTENCES: tuple[tuple[str, str], ...] = (
    ("assignee_id: forward to a person", "Choose where it goes: a person, a workgroup or a shift."),
)
_FIELD_PREFIX = re.compile(r"^([a-z_]+): ")
_PARAM_LABELS: dict[str, str] = {
    "assignee_scene": "Shift",
    "assignee_role": "Shift",
    "until": "Planned end",
    "note": "Remark",
    "reason": "Reason",
    "comment": "Comment",
    "accepted": "Is the problem solved?",
    "time_spent_minutes": "Minutes",
    "started_at": "Started at",
    "body": "Message",
    "rating": "Rating",
    "files": "Files",
}


def _field_label(field: str) -> str:
    return _PARAM_LABELS.get(field) or FIELD_LABELS.get(field) or field.replace("_", " ")


def _sentence(field: str, text: str) -> str:
    text = text.strip()
    if text.startswith("is required for") or text == "Field required":
        return f"{_field_label(field)} is required."
    sentence = f"{_field_label(field)}: {text}"
    return sentence if sentence.endswith((".", "?", "!")) else sentence + "."


def plain_message(exc: OpsdeskError | ValidationError, action: Action | None = None) -> str:
    """A service or validation error as sentences: labels, not parameter names."""
    if isinstance(exc, ValidationError):
        messages, _fields = _pydantic_errors(exc)
        parts = [_FIELD_PREFIX.match(m) for m in messages]
        return " ".join(
            _sentence(match.group(1), m[match.end() :]) if match else m
            for match, m in zip(parts, messages, strict=True)
        )
    for start, sentence in _SENTENCES:
        if exc.message.startswith(start):
            return sentence
    if isinstance(exc, Forbidden) and action is not None:
        return f"Your role does not allow you to {ACTION_VERBS[action]}."
    if isinstance(exc, Conflict) and "is not allowed while the incident is" in exc.message:
        return (
            "This is no longer possible: the incident has moved on meanwhile. "
            "The page now shows what you can do."
        )
    if isinstance(exc, ValidationFailed) and exc.problems:
        return " ".join(_sentence(p["field"], p["message"]) for p in exc.problems)
    match = _FIELD_PREFIX.match(exc.message)
    if match:
        return _sentence(match.group(1), exc.message[match.end() :])
    return exc.message[:1].upper() + exc.message[1:]


def status_of_error(exc: Exception) -> int:
    return next((code for kind, code in HTTP_STATUS.items() if isinstance(exc, kind)), 422)


class ItemPage(Protocol):
    """A page about one numbered item (work order, article, review) that can show a form's
    refusal beside that form."""

    def __call__(
        self,
        request: Request,
        caller: Caller,
        item_id: int,
        /,
        *,
        failed: dict[str, Any] | None = ...,
        status_code: int = ...,
    ) -> Awaitable[Response]: ...


async def refused_on_page(
    page: ItemPage,
    request: Request,
    caller: Caller,
    item_id: int,
    form_id: str,
    exc: OpsdeskError | ValidationError,
) -> Response:
    """The item's page again, the refusal in words beside form ``form_id``, with the
    error's status code."""
    return await page(
        request,
        caller,
        item_id,
        failed={"form_id": form_id, "message": plain_message(exc)},
        status_code=status_of_error(exc),
    )
