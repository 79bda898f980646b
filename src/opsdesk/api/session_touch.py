"""Keep a web session's last-seen time current, after the answer, at most once a minute.

The session lookup itself (auth.sessions) only reads; the idle timeout needs last_seen_at,
so the write happens here, once the route is done and holds no transaction.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from opsdesk.auth.sessions import found_in, touch_session
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database

log = logging.getLogger(__name__)


class SessionTouch:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] != "http":
            return
        found = found_in(scope)
        if found is None or not found.needs_touch:
            return
        db: Database = scope["app"].state.db
        clock: Clock = scope["app"].state.clock
        try:
            async with db.write() as session:
                await touch_session(session=session, session_id=found.session_id, now=clock.now())
        except SQLAlchemyError as exc:
            # The answer is already sent; a missed touch only shortens the idle window.
            log.warning("could not record session activity: %s", type(exc).__name__)
