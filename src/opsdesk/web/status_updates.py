"""The form route of the incident page's "Stakeholder updates" section: post an update
through ``reviews.status_updates.post_update``; a refusal shows the page again with the message."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from opsdesk.core.errors import OpsdeskError
from opsdesk.reviews import status_updates
from opsdesk.reviews.status_rules import STATE_LABELS
from opsdesk.reviews.status_schemas import StatusUpdateCreate
from opsdesk.web.common import (
    SESSION_FLASH_KEY,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _redirect,
    _signed_in,
    _text,
    _to_login,
)
from opsdesk.web.incident_page import refused

router = APIRouter(include_in_schema=False)

FORM_ID = "status-update"


@router.post("/incidents/{number}/status-updates")
async def post_status_update(request: Request, number: str) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    form = await request.form()
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    try:
        audience_ids = [
            int(value)
            for value in form.getlist("audience_ids")
            if isinstance(value, str) and value.isdigit() and len(value) < 19
        ]
        data = StatusUpdateCreate.model_validate(
            {
                "incident": number,
                "state": _text(form, "state"),
                "title": _text(form, "title").strip() or None,
                "message": _text(form, "message"),
                "audience_ids": audience_ids,
                "is_public": _text(form, "is_public") == "on",
            }
        )
        async with _db(request).write() as session:
            view = await status_updates.post_update(
                session=session,
                caller=caller,
                data=data,
                now=_clock(request).now(),
                settings=request.app.state.settings,
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, FORM_ID, form, exc)
    mailed = f", mailed to {view.recipient_count}" if view.recipient_count else ""
    where = "published on the status page" if view.is_public else "not public"
    request.session[SESSION_FLASH_KEY] = (
        f"Status update posted: {STATE_LABELS[view.state].lower()} ({where}{mailed})."
    )
    return _redirect(f"/incidents/{number}#stakeholder-updates")
