"""Request body limits, applied before a body is read, for every route.

A body whose ``Content-Length`` is above the limit is refused with ``413`` at once, without
reading a byte of it; a chunked body is counted while it arrives and refused as soon as it
passes the limit. JSON and form bodies share one limit (``OPSDESK_MAX_JSON_BYTES``);
multipart uploads may carry one attachment (``OPSDESK_ATTACHMENT_MAX_BYTES``) plus that
much again for their other fields, so the attachment rules keep their own, clearer answer
for a file that is just too big. JSON nested deeper than :data:`MAX_JSON_DEPTH` is refused
before it is parsed (``nul_guard`` reads the body and asks :func:`json_too_deep`).
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsdesk.api.coc import envelope as coc

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# Openers become 1, closers 255 (-1 as a signed byte): the running sum is the depth.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class BodyTooLarge(HTTPException):
    """Raised while reading a body that passed the limit (FastAPI lets HTTPExceptions through
    its body parsing, so the answer is ours, not its generic 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"body: larger than {limit} bytes")
        self.limit = limit


def too_large_response(path: str, limit: int) -> Response:
    message = f"body: the request body is larger than the limit of {limit} bytes"
    if path.startswith(coc.COC_PREFIXES):
        return coc.error_response(coc.BODY_TOO_LARGE, f"Parameter error: {message}", status=413)
    error = {"code": "body_too_large", "message": message, "field": "body"}
    return JSONResponse({"error": error}, status_code=413)


async def body_too_large_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return too_large_response(request.url.path, exc.limit)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays and objects in ``body`` nest deeper than ``limit``.

    No recursion and no parse: strings are dropped, the brackets left become +1 and -1, and
    the deepest running sum is the nesting, all in C loops. A body with no more openers than
    the limit (almost every body) is answered by two counts. Malformed bodies are left to
    the JSON parser.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_A_BRACKET).translate(_STEPS)
    return max(accumulate(array("b", brackets)), default=0) > limit


class BodyLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def _limit_for(self, headers: Headers) -> int:
        if headers.get("content-type", "").lower().startswith("multipart/"):
            return self.max_upload_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self._limit_for(headers)
        path = str(scope.get("path", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await too_large_response(path, limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Raised where no exception handler runs (another middleware reading the body).
            if started:
                raise
            await too_large_response(path, limit)(scope, receive, send)
