"""Refuse lone UTF-16 surrogates in JSON text before any handler sees them.

JSON may spell a character as ``\\ud800``; a high surrogate (``\\ud800``-``\\udbff``) must be
followed by a low one (``\\udc00``-``\\udfff``) to make a character, and Python's decoder
lets a lone half through as a string no encoder accepts: both database drivers fail on it
when they encode the query, as a server error. Form bodies, query strings and paths are
percent-encoded bytes decoded with replacement, so they cannot carry one. Every body other
than a form or a multipart upload is checked, since the COC routes read any body as JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsdesk.api.coc import envelope as coc

# Cheap first look: no escape of a surrogate at all, nothing more to do.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Every escape in order, so an escaped backslash (``\\\\``) is never read as the start of one.
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_NOT_CHECKED = (b"multipart/", b"application/x-www-form-urlencoded")
_HIGH, _LOW = range(0xD800, 0xDC00), range(0xDC00, 0xE000)


def has_lone_surrogate(body: bytes) -> bool:
    """Whether ``body`` spells a surrogate escape that is not half of a pair."""
    if _SURROGATE_ESCAPE.search(body) is None:
        return False
    high_ends_at: int | None = None  # where a high half ends, waiting for its low half
    for match in _ESCAPE.finditer(body):
        code = int(match.group(1), 16) if match.group(1) is not None else None
        if high_ends_at is not None:
            if match.start() == high_ends_at and code in _LOW:
                high_ends_at = None
                continue
            return True
        if code in _HIGH:
            high_ends_at = match.end()
        elif code in _LOW:
            return True
    return high_ends_at is not None


def _lone(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def surrogate_path(body: bytes, *, brackets: bool) -> str:
    """The path of the first value holding a lone surrogate, e.g. ``cells.0.level``
    (``cells[0].level`` with ``brackets``); ``body`` when it names no single value."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return "body"
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str) and _lone(value):
            return path or "body"
        if isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if _lone(key):
                    return path or "body"
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            for index, item in reversed(list(enumerate(value))):
                step = f"[{index}]" if brackets else f".{index}"
                stack.append((item, f"{path}{step}" if path else step.lstrip(".")))
    return "body"


def _refusal(path: str, body: bytes) -> JSONResponse:
    is_coc = path.startswith(coc.COC_PREFIXES)
    field = surrogate_path(body, brackets=is_coc)
    message = f"{field}: text must not contain a lone UTF-16 surrogate (\\ud800-\\udfff)"
    if is_coc:
        return coc.error_response(coc.PARAMETER_ERROR, f"Parameter error: {message}")
    return JSONResponse(
        {"error": {"code": "validation_error", "message": message, "field": field}},
        status_code=422,
    )


class SurrogateGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        if content_type.startswith(_NOT_CHECKED):
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
        if has_lone_surrogate(body):
            await _refusal(str(scope.get("path", "")), body)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
