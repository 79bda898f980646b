"""The portal's "This solved it" on the new-incident form: records a deflection (the
article ended the report; no incident is created) and thanks the user. Translation only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.core.errors import OpsdeskError
from opsdesk.knowledge import deflections
from opsdesk.web.common import (
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _error_page,
    _render,
    _signed_in,
    _text,
    _to_login,
)

router = APIRouter(include_in_schema=False)


@router.post("/incidents/new/solved")
async def solved(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    form = await request.form()
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    raw = _text(form, "article_id").strip()
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        return _error_page(
            request,
            caller=caller,
            status_code=422,
            title="No article chosen",
            message="article_id: choose the article that solved the problem.",
        )
    try:
        async with _db(request).write() as session:
            view = await deflections.deflect(
                session=session,
                caller=caller,
                article_id=int(raw),
                text=f"{_text(form, 'title')}\n{_text(form, 'description')}".strip(),
                now=_clock(request).now(),
            )
    except OpsdeskError as exc:
        return _error_page(
            request,
            caller=caller,
            status_code=404,
            title="Article not found",
            message=exc.message,
        )
    return _render(request, "suggestion_thanks.html", {"deflection": view}, caller=caller)
