"""Staff work on an incident's record: editing fields in place (with the If-Match version
the page was read at) and logging work."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration.schemas import WorkLogCreate
from opsdesk.core.errors import Forbidden, OpsdeskError, PreconditionFailed, ValidationFailed
from opsdesk.incidents import editing
from opsdesk.incidents.schemas import IncidentUpdate
from opsdesk.web.common import _clock, _db, _error_page, _fault_time, _rules, _text
from opsdesk.web.incident_page import FailedForm, done, incident_page, posted, refused
from opsdesk.web.incident_view import EDIT_GROUPS, edit_input, plain_message, typed

router = APIRouter(include_in_schema=False)


@router.post("/incidents/{number}/edit/{group_key}")
async def edit_fields(request: Request, number: str, group_key: str) -> Response:
    """Save one group of fields if nobody changed the incident since the form was read;
    otherwise show who did, with the typed values kept and the new version to keep them."""
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    group = EDIT_GROUPS.get(group_key)
    if group is None:
        return _error_page(
            request,
            caller=caller,
            status_code=404,
            title="No such form",
            message=f"There is no field group {group_key!r} to edit.",
        )
    form_id = f"edit-{group.key}"
    version = _text(form, "version").strip()
    try:
        if not caller.is_staff:
            raise Forbidden("Only staff edit an incident's fields here.")
        if not version.isdigit():
            raise ValidationFailed("version: reload the page and edit again", field="version")
        data = IncidentUpdate.model_validate(edit_input(group, form))
        async with _db(request).write() as session:
            await editing.update_incident(
                session=session,
                caller=caller,
                number=number,
                data=data,
                now=_clock(request).now(),
                rules=_rules(request),
                expected_version=int(version),
            )
    except PreconditionFailed:
        failed = FailedForm(
            form_id=form_id,
            values=typed(form),
            message="This incident was changed by someone else after you opened this form.",
        )
        return await incident_page(
            request,
            caller,
            number,
            failed=failed,
            editing=group.key,
            conflict=True,
            status_code=412,
        )
    except (OpsdeskError, ValidationError) as exc:
        failed = FailedForm(form_id=form_id, values=typed(form), message=plain_message(exc))
        status_code = 403 if isinstance(exc, Forbidden) else 422
        if isinstance(exc, OpsdeskError) and exc.code == "conflict":
            status_code = 409
        return await incident_page(
            request, caller, number, failed=failed, editing=group.key, status_code=status_code
        )
    return done(request, number, f"{group.title} saved.")


@router.post("/incidents/{number}/worklog")
async def work_log(request: Request, number: str) -> Response:
    caller, form = await posted(request)
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
        return await refused(request, caller, number, "worklog", form, exc)
    return done(request, number, f"Work logged: {int(minutes)} min.")
