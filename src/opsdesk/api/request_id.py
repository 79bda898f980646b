"""``X-Request-Id`` on every response: the proxy's id when it sent a sane one, else a new one.

Pure ASGI (no ``BaseHTTPMiddleware``, which would cost a task and a stream per request). It
sits outside Starlette's error middleware (``app.py``), so a 500 carries the id too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsdesk.core.request_id import accepted_request_id, request_id_var

HEADER = b"x-request-id"


def _sent_id(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            return bytes(value)
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(_sent_id(scope))
        header = (HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id_var.set(request_id)
        # Reset only after a normal end: after an exception the server logs it from this
        # same task, and that line should name the request too.
        await self.app(scope, receive, send_with_id)
        request_id_var.reset(token)
