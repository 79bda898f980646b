"""The page of one task (``/incidents/{number}/tasks/{task_id}``): what it is, and for staff
the form that changes every field the API's ``PATCH`` takes, through the same service call
(``collaboration.tasks.update_task``: same checks, same history row, same notices).

Routes only translate between the HTML form and the service. A refusal shows the page again
with the message beside the field at fault and what was typed kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller
from opsdesk.collaboration import tasks
from opsdesk.collaboration.work_schemas import DESCRIPTION_MAX, TITLE_MAX, TaskUpdate
from opsdesk.collaboration.work_states import TASK_LABELS, TaskStatus
from opsdesk.core.bounds import RowId
from opsdesk.core.errors import Forbidden, NotFound, OpsdeskError
from opsdesk.incidents.fields import Status
from opsdesk.web.common import (
    _clock,
    _db,
    _done,
    _error_page,
    _fault_time,
    _posted,
    _pydantic_errors,
    _render,
    _signed_in,
    _text,
    _to_login,
    _user_names,
)
from opsdesk.web.incident_view import _sentence, plain_message, status_of_error, typed
from opsdesk.web.work_section import task_row

router = APIRouter(include_in_schema=False)

# The inputs of the edit form, named as the API's fields, so a refusal's field finds its input.
EDIT_FIELDS = ("title", "description", "assignee_id", "workgroup", "due_at", "status")


def _moment(value: datetime | None) -> str:
    """A time as a ``datetime-local`` value, in UTC like every time on the console."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if value is not None else ""


def _field_errors(exc: OpsdeskError | ValidationError) -> dict[str, str]:
    """Input name → the refusal in words; ``form`` when no input is at fault."""
    if isinstance(exc, ValidationError):
        found: dict[str, str] = {}
        for message in _pydantic_errors(exc)[0]:
            name, _colon, text = message.partition(": ")
            found.setdefault(name if name in EDIT_FIELDS else "form", _sentence(name, text))
        return found
    return {exc.field if exc.field in EDIT_FIELDS else "form": plain_message(exc)}


def _edit_input(form: FormData) -> TaskUpdate:
    """The form as the API's update: every field is sent, so an emptied select or time
    clears it; an empty status keeps the current one."""
    due = _text(form, "due_at").strip()
    fields: dict[str, Any] = {
        "title": _text(form, "title"),
        "description": _text(form, "description").replace("\r\n", "\n"),
        "assignee_id": _text(form, "assignee_id").strip() or None,
        "workgroup": _text(form, "workgroup").strip() or None,
        "due_at": _fault_time(due, "due_at") if due else None,
    }
    status = _text(form, "status").strip()
    if status:
        fields["status"] = status
    return TaskUpdate.model_validate(fields)


def _staff_only(request: Request, caller: Caller) -> Response:
    # Like the API's routes: an end user gets 403 on any task, theirs or not.
    return _error_page(
        request, caller=caller, status_code=403, title="Staff only", message="Tasks are staff work."
    )


async def _task_page(
    request: Request,
    caller: Caller,
    number: str,
    task_id: int,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    if not caller.is_staff:
        return _staff_only(request, caller)
    now = _clock(request).now()
    async with _db(request).read() as session:
        try:
            incident, task = await tasks.get_task(
                session=session, caller=caller, number=number, task_id=task_id
            )
        except Forbidden:  # pragma: no cover - staff only above, as the service says
            return _staff_only(request, caller)
        except NotFound:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="Task not found",
                message=f"Incident {number} has no task {task_id}.",
            )
        names = await _user_names(session, [task.assignee_id, task.created_by])
        groups = await assignment_workgroups.list_workgroups(session=session, caller=caller)
        staff = await auth_service.active_staff(session=session)
    can_edit = incident.status != Status.COMPLETED and incident.merged_into_id is None
    errors = dict(failed["errors"]) if failed else {}
    if not can_edit:
        # No form to show them beside: every refusal goes above.
        errors = {"form": " ".join(errors.values())} if errors else {}
    values = (
        failed["values"]
        if failed
        else {
            "title": task.title,
            "description": task.description,
            "assignee_id": task.assignee_id or "",
            "workgroup": task.workgroup or "",
            "due_at": _moment(task.due_at),
            "status": "",
        }
    )
    group_names = {group.key: group.name for group in groups}
    return _render(
        request,
        "task.html",
        {
            "incident": incident,
            "task": task_row(task, names, group_names, now),
            "created_by": names.get(task.created_by, task.created_by),
            "created_at": task.created_at,
            "finished_at": task.finished_at,
            "can_edit": can_edit,
            "values": values,
            "errors": errors,
            "current_label": TASK_LABELS[TaskStatus(task.status)],
            "staff": [(user.id, f"{user.name} ({user.email})") for user in staff],
            # A disabled group stays offered while the task still names it.
            "workgroups": [
                (group.key, group.name)
                for group in groups
                if group.enabled or group.key == task.workgroup
            ],
            "title_max": TITLE_MAX,
            "description_max": DESCRIPTION_MAX,
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/incidents/{number}/tasks/{task_id}")
async def task_detail(request: Request, number: str, task_id: RowId) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    return await _task_page(request, caller, number, task_id)


@router.post("/incidents/{number}/tasks/{task_id}/edit")
async def task_edit(request: Request, number: str, task_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    if not caller.is_staff:
        return _staff_only(request, caller)
    try:
        data = _edit_input(form)
        async with _db(request).write() as session:
            task = await tasks.update_task(
                session=session,
                caller=caller,
                number=number,
                task_id=task_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        failed = {"errors": _field_errors(exc), "values": typed(form)}
        return await _task_page(
            request, caller, number, task_id, failed=failed, status_code=status_of_error(exc)
        )
    return _done(request, f"/incidents/{number}/tasks/{task.id}", f"Task #{task.id} saved.")
