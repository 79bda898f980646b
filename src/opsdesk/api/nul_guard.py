"""Refuse NUL characters and runaway JSON nesting in request bodies before any handler sees them.

PostgreSQL text cannot hold U+0000 (SQLite can), so a NUL that reached the database would
fail on one backend only, as a server error. JSON bodies carry it only as the escape
``\\u0000``; form bodies and query strings as ``%00``. Uploads (multipart) are files and
are left alone: their names are checked by ``incidents.filetypes``.

Every other body is read here (``body_limits`` outside this middleware bounds its size) and
checked for nesting deeper than ``MAX_JSON_DEPTH``: Python's JSON parser recurses, and a few
thousand ``[`` would otherwise end in a ``RecursionError``, a 500. Any body, not only one
labelled JSON, because some routes parse their body as JSON whatever its label.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsdesk.api.body_limits import MAX_JSON_DEPTH, json_too_deep
from opsdesk.api.coc import envelope as coc

# An escape \u0000 that is not itself escaped (an even number of backslashes before it).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_JSON_TYPE = b"application/json"
_FORM_TYPE = b"application/x-www-form-urlencoded"


def _refusal(path: str, where: str) -> JSONResponse:
    message = f"{where}: text must not contain NUL characters (U+0000)"
    if path.startswith(coc.COC_PREFIXES):
        return coc.error_response(coc.PARAMETER_ERROR, f"Parameter error: {message}")
    return JSONResponse(
        {"error": {"code": "validation_error", "message": message, "field": where}},
        status_code=422,
    )


def _too_deep(path: str) -> JSONResponse:
    message = f"body: JSON nesting is deeper than {MAX_JSON_DEPTH} levels"
    if path.startswith(coc.COC_PREFIXES):
        return coc.error_response(coc.PARAMETER_ERROR, f"Parameter error: {message}")
    return JSONResponse(
        {"error": {"code": "json_too_deep", "message": message, "field": "body"}},
        status_code=400,
    )


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if b"%00" in scope.get("query_string", b""):
            await _refusal(path, "query")(scope, receive, send)
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if content_type.startswith(_JSON_TYPE):
            found = _JSON_NUL.search(body) is not None
        else:
            found = content_type.startswith(_FORM_TYPE) and b"%00" in body
        if found:
            await _refusal(path, "body")(scope, receive, send)
            return
        if not content_type.startswith(_FORM_TYPE) and json_too_deep(body):
            await _too_deep(path)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
