"""The last line before the server: no exception leaves the app, every error is an answer.

A database that cannot be reached is ``503`` with ``Retry-After`` and
``code: database_unavailable``; anything else unexpected is a JSON ``500`` with
``code: internal_error`` and the traceback in the log only. COC routes answer in the COC
envelope; a browser asking for a page during an outage gets a short HTML 503 page. Because
the exception ends here instead of in the server, the keep-alive connection stays open, and
the next request after the database is back is served normally.

Starlette's own last-resort handler re-raises after answering, and the server then drops
the connection: this middleware sits inside it, outside every other middleware.
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsdesk.api.coc import envelope as coc
from opsdesk.core.unavailable import describe, is_database_unavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
_API_PREFIXES = ("/api/", "/healthz", "/openapi.json", "/docs", "/redoc", *coc.COC_PREFIXES)
_UNAVAILABLE_MESSAGE = "the database cannot be reached; try again shortly"
_INTERNAL_MESSAGE = "an unexpected error occurred; it has been logged"
_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)


def _wants_page(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    if path.startswith(_API_PREFIXES):
        return False
    return "text/html" in Headers(scope=scope).get("accept", "")


def unavailable_response(scope: Scope) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if str(scope.get("path", "")).startswith(coc.COC_PREFIXES):
        return coc.error_response(
            coc.DATABASE_UNAVAILABLE, _UNAVAILABLE_MESSAGE, status=503, headers=headers
        )
    if _wants_page(scope):
        page = _PAGE.format(
            title="Temporarily unavailable",
            text="opsdesk cannot reach its database. This page will work again shortly.",
        )
        return HTMLResponse(page, status_code=503, headers=headers)
    body = {"error": {"code": "database_unavailable", "message": _UNAVAILABLE_MESSAGE}}
    return JSONResponse(body, status_code=503, headers=headers)


def internal_error_response(scope: Scope) -> Response:
    if str(scope.get("path", "")).startswith(coc.COC_PREFIXES):
        return coc.error_response(coc.INTERNAL_ERROR, _INTERNAL_MESSAGE, status=500)
    # JSON even for a browser: a 500 body is always machine-readable (issue 24).
    body = {"error": {"code": "internal_error", "message": _INTERNAL_MESSAGE}}
    return JSONResponse(body, status_code=500)


class ErrorBoundary:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            unavailable = is_database_unavailable(exc)
            where = f"{scope.get('method', '')} {scope.get('path', '')}"
            if unavailable:
                # One line, no traceback: an outage would otherwise fill the log.
                log.warning("database unavailable during %s: %s", where, describe(exc))
            else:
                log.exception("unexpected error during %s", where)
            if started:
                # Half an answer is already on the wire: only closing the connection is honest.
                raise
            answer = unavailable_response if unavailable else internal_error_response
            await answer(scope)(scope, receive, send)
