"""Live updates by polling: a small tag per queue or incident, answered 304 while unchanged.

The pages work by reload without JavaScript; static/live.js polls these endpoints with
``If-None-Match`` and, when the tag changes, fetches the page again and swaps the parts
marked ``data-live-region``.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from opsdesk.collaboration.models import ConversationEntry
from opsdesk.core.errors import OpsdeskError
from opsdesk.desk import queues
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.models import IncidentHistory
from opsdesk.web.common import _caller, _clock, _db
from opsdesk.web.desk import PAGE_PARAMS, _state

router = APIRouter(include_in_schema=False)

# Answers depend on who asks: a browser may revalidate them, never a shared cache.
NO_SHARED_CACHE = "private, no-cache"


def _answer(request: Request, tag: str) -> Response:
    etag = f'"{tag}"'
    headers = {"ETag": etag, "Cache-Control": NO_SHARED_CACHE, "Vary": "Cookie"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return JSONResponse({"tag": tag}, headers=headers)


def _refused(status_code: int, message: str) -> Response:
    return JSONResponse(
        {"error": message}, status_code=status_code, headers={"Cache-Control": "no-store"}
    )


@router.get("/queue/changes")
async def queue_changes(request: Request) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in PAGE_PARAMS and v.strip()}
    params.pop("page", None)
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _refused(401, "sign in first")
        if not caller.is_staff:
            return _refused(403, "queues are for staff")
        try:
            state = await _state(session, caller, params)
            tag = await queues.change_tag(
                session=session,
                caller=caller,
                request=queues.QueueRequest(
                    queue=state.queue, filters=queues.parse_filters(state.filters)
                ),
                now=_clock(request).now(),
            )
        except OpsdeskError as exc:
            return _refused(422, exc.message)
    return _answer(request, tag)


@router.get("/incidents/{number}/changes")
async def incident_changes(request: Request, number: str) -> Response:
    async with _db(request).read() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _refused(401, "sign in first")
        try:
            incident = await access_incident(session=session, caller=caller, number=number)
        except OpsdeskError as exc:
            return _refused(404, exc.message)
        replies = select(func.count(), func.max(ConversationEntry.id)).where(
            ConversationEntry.incident_id == incident.id
        )
        history = select(func.count(), func.max(IncidentHistory.id)).where(
            IncidentHistory.incident_id == incident.id
        )
        if not caller.is_staff:
            replies = replies.where(ConversationEntry.internal.is_(False))
            history = history.where(IncidentHistory.internal.is_(False))
        # Staff see every change; end users only what they can see (their tag must not
        # move for an internal note, which bumps the version).
        seen: list[object] = [incident.version] if caller.is_staff else []
        seen += list((await session.execute(replies)).one())
        seen += list((await session.execute(history)).one())
    tag = hashlib.sha256("|".join(map(str, seen)).encode()).hexdigest()[:20]
    return _answer(request, tag)
