"""Merge, undo merge and split from the incident page (forms work without JavaScript).

Routes only translate forms to ``relations.merging``; every rule lives there.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from opsdesk.auth.roles import Caller
from opsdesk.collaboration import service as collaboration
from opsdesk.core.errors import Forbidden, NotFound, OpsdeskError, ValidationFailed
from opsdesk.incidents import access, attachments
from opsdesk.relations import merging, splitting
from opsdesk.web.common import (
    SESSION_FLASH_KEY,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _error_page,
    _redirect,
    _render,
    _rules,
    _signed_in,
    _text,
    _to_login,
    _user_names,
)
from opsdesk.web.incident_page import done, posted, refused
from opsdesk.web.incident_view import plain_message, status_of_error

router = APIRouter(include_in_schema=False)

_SEPARATORS = re.compile(r"[\s,;]+")


def unmerge_window(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.unmerge_window_hours)


def _numbers(raw: str) -> list[str]:
    return [part for part in _SEPARATORS.split(raw.strip()) if part]


@router.post("/incidents/{number}/merge")
async def merge_form(request: Request, number: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    into = _text(form, "mode") == "into"
    form_id = "merge-into" if into else "merge-others"
    targets = _numbers(_text(form, "target"))
    try:
        if into and len(targets) != 1:
            raise ValidationFailed("target: give the number of one incident", field="target")
        primary, secondaries = (targets[0], [number]) if into else (number, targets)
        async with _db(request).write() as session:
            await merging.merge(
                session=session,
                caller=caller,
                primary_number=primary,
                secondary_numbers=secondaries,
                now=_clock(request).now(),
                rules=_rules(request),
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, form_id, form, exc)
    return done(request, primary, f"Merged {', '.join(secondaries)} into {primary}.")


@router.post("/incidents/{number}/unmerge")
async def unmerge_form(request: Request, number: str) -> Response:
    caller, form = await posted(request)
    if isinstance(form, Response):
        return form
    assert caller is not None
    secondary = _text(form, "secondary").strip()
    try:
        async with _db(request).write() as session:
            restored = await merging.unmerge(
                session=session,
                caller=caller,
                number=number,
                now=_clock(request).now(),
                window=unmerge_window(request),
                secondaries=[secondary] if secondary else (),
            )
    except OpsdeskError as exc:
        return await refused(request, caller, number, "unmerge", form, exc)
    names = ", ".join(item.number for item in restored)
    return done(request, restored[0].number, f"Merge undone: {names} restored as it was.")


async def _split_page(
    request: Request,
    caller: Caller,
    number: str,
    *,
    values: dict[str, str] | None = None,
    chosen_entries: set[str] | None = None,
    chosen_files: set[str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    if not caller.is_staff:
        return _error_page(
            request,
            caller=caller,
            status_code=403,
            title="Staff only",
            message="Only staff may split incidents.",
        )
    async with _db(request).read() as session:
        try:
            incident = await access.access_incident(session=session, caller=caller, number=number)
            entries = await collaboration.list_conversations(
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
                message=f"There is no incident {number}.",
            )
        names = await _user_names(session, [entry.author_id for entry in entries])
    shown = [
        {
            "id": entry.id,
            "created_at": entry.created_at,
            "author": names.get(entry.author_id, entry.author_id),
            "internal": entry.internal,
            "body": entry.body,
        }
        for entry in entries
    ]
    context = {
        "incident": incident,
        "entries": shown,
        "files": files,
        "values": values or {"title": incident.title, "description": incident.description},
        "chosen_entries": chosen_entries or set(),
        "chosen_files": chosen_files or set(),
        "error": error,
    }
    return _render(request, "incident_split.html", context, caller=caller, status_code=status_code)


@router.get("/incidents/{number}/split")
async def split_page(request: Request, number: str) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    return await _split_page(request, caller, number)


@router.post("/incidents/{number}/split")
async def split_form(request: Request, number: str) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    form = await request.form()
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    entry_ids = [str(v) for v in form.getlist("conversation_ids")]
    file_ids = [str(v) for v in form.getlist("attachment_ids")]
    values = {"title": _text(form, "title"), "description": _text(form, "description")}
    try:
        if not caller.is_staff:
            raise Forbidden("only staff may split incidents")
        for field, raw in (("conversation_ids", entry_ids), ("attachment_ids", file_ids)):
            if not all(item.isdigit() and len(item) < 19 for item in raw):
                raise ValidationFailed(f"{field}: choose from the list", field=field)
        part = splitting.SplitPart(
            title=values["title"].strip(),
            description=values["description"].replace("\r\n", "\n"),
            conversation_ids=[int(item) for item in entry_ids],
            attachment_ids=[int(item) for item in file_ids],
        )
        if not part.title:
            raise ValidationFailed("title: give the new incident a title", field="title")
        async with _db(request).write() as session:
            created = await splitting.split(
                session=session,
                caller=caller,
                number=number,
                part=part,
                now=_clock(request).now(),
                rules=_rules(request),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await _split_page(
            request,
            caller,
            number,
            values=values,
            chosen_entries=set(entry_ids),
            chosen_files=set(file_ids),
            error=plain_message(exc, None),
            status_code=status_of_error(exc),
        )
    request.session[SESSION_FLASH_KEY] = f"Split from {number}."
    return _redirect(f"/incidents/{created.number}")
