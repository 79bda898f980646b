"""The public status page: ``/status``, ``/status/incidents/{public_id}`` and the Atom feed
``/status/feed.atom``. No sign-in and no session: these pages read only the status page's
public tables (``reviews.status_page.public_status``), never an incident, a note or a name of
staff, so nothing internal can appear on them. Short public caching with an ETag."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk import __version__
from opsdesk.core.errors import NotFound
from opsdesk.reviews import status_page as page_service
from opsdesk.reviews.status_feed import atom_feed
from opsdesk.web.common import SECURITY_HEADERS, _clock, _db, templates

router = APIRouter(include_in_schema=False)

FEED_TITLE = "Service status"
MAX_AGE_S = 30
ATOM_TYPE = "application/atom+xml"


def _cached(request: Request, body: bytes, media_type: str, status_code: int = 200) -> Response:
    """The answer with public short caching and a strong ETag of its body (304 on match)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": f"public, max-age={MAX_AGE_S}",
        "ETag": etag,
    }
    wanted = request.headers.get("if-none-match", "")
    if status_code == 200 and etag in {tag.strip() for tag in wanted.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    # Rendered without the session: no caller, no CSRF token, no cookie on a public page.
    body = templates.get_template(name).render(
        {"version": __version__, "feed_url": "/status/feed.atom", **context}
    )
    return _cached(request, body.encode(), "text/html; charset=utf-8", status_code)


@router.get("/status")
async def status_page(request: Request) -> Response:
    async with _db(request).read() as session:
        view = await page_service.public_status(session=session, now=_clock(request).now())
    return _page(request, "status_public.html", {"status": view, "title": FEED_TITLE})


@router.get("/status/incidents/{public_id}")
async def status_incident(request: Request, public_id: str) -> Response:
    try:
        async with _db(request).read() as session:
            incident = await page_service.public_incident(session=session, public_id=public_id[:32])
    except NotFound:
        return _page(
            request,
            "status_public_incident.html",
            {"incident": None, "title": FEED_TITLE},
            status_code=404,
        )
    return _page(
        request, "status_public_incident.html", {"incident": incident, "title": FEED_TITLE}
    )


@router.get("/status/feed.atom")
async def status_feed(request: Request) -> Response:
    async with _db(request).read() as session:
        entries = await page_service.feed_entries(session=session)
    base = request.app.state.settings.public_url
    return _cached(request, atom_feed(base_url=base, title=FEED_TITLE, entries=entries), ATOM_TYPE)
