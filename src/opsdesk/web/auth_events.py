"""The sign-in log for administrators: auth events, newest first, filtered by kind or e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth.events import EventKind, list_events
from opsdesk.auth.roles import Caller
from opsdesk.core.pagination import PageRequest
from opsdesk.web.common import (
    EMPTY,
    _db,
    _format_time,
    _render,
    admin_for_page,
)

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
KIND_LABELS: dict[EventKind, str] = {
    EventKind.SIGN_IN: "Signed in",
    EventKind.SIGN_IN_FAILED: "Wrong password",
    EventKind.SIGN_IN_THROTTLED: "Throttled",
    EventKind.SIGN_OUT: "Signed out",
    EventKind.SIGNED_OUT_ELSEWHERE: "Signed out elsewhere",
    EventKind.PASSWORD_CHANGED: "Password changed",
    EventKind.PASSWORD_RESET: "Password reset",
    EventKind.SESSIONS_ENDED: "Sessions ended",
}


@dataclass(frozen=True)
class EventRow:
    at: str
    kind: str
    kind_key: str
    email: str
    address: str
    browser: str
    reason: str


@router.get("/admin/auth-events")
async def auth_events_page(request: Request) -> Response:
    params = request.query_params
    kind_given = params.get("kind", "")
    kind = EventKind(kind_given) if kind_given in set(EventKind) else None
    email = params.get("email", "").strip()[:254]
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        found = await list_events(
            session=session,
            caller=caller,
            page=PageRequest(page, PER_PAGE),
            kind=kind,
            email=email or None,
        )
    rows = [
        EventRow(
            at=_format_time(event.at),
            kind=KIND_LABELS.get(EventKind(event.kind), event.kind)
            if event.kind in set(EventKind)
            else event.kind,
            kind_key=event.kind,
            email=event.email or EMPTY,
            address=event.client_address,
            browser=event.user_agent or EMPTY,
            reason=event.reason or EMPTY,
        )
        for event in found.items
    ]
    filters = {"kind": kind.value if kind is not None else "", "email": email}
    kept = {key: value for key, value in filters.items() if value}
    return _render(
        request,
        "auth_events.html",
        {
            "rows": rows,
            "total": found.total,
            "filters": filters,
            "kind_options": [(key.value, label) for key, label in KIND_LABELS.items()],
            "page": page,
            "previous_url": (
                "/admin/auth-events?" + urlencode({**kept, "page": page - 1}) if page > 1 else None
            ),
            "next_url": (
                "/admin/auth-events?" + urlencode({**kept, "page": page + 1})
                if page * PER_PAGE < found.total
                else None
            ),
        },
        caller=caller,
    )
