"""Request dependencies: the database, the clock and the caller.

A route that needs a role takes its caller as ``StaffCaller``, ``ManagerCaller`` or
``AdminCaller`` (a router of admin pages: ``dependencies=[ADMIN_ONLY]``). FastAPI solves
dependencies before it validates the query and the body, so a caller without the role gets
403 whatever they sent, and learns nothing of the route's schema from a 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.sessions import SESSION_USER_KEY
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.errors import Unauthenticated
from opsdesk.incidents.service import IncidentRules


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_incident_rules(request: Request) -> IncidentRules:
    rules: IncidentRules = request.app.state.incident_rules
    return rules


def token_from(request: Request) -> str | None:
    """``Authorization: Bearer <token>`` or COC's ``X-Auth-Token: <token>``."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    token = request.headers.get("x-auth-token", "").strip()
    return token or None


async def optional_caller(request: Request) -> Caller | None:
    db: Database = request.app.state.db
    token = token_from(request)
    if token is not None:
        cached = auth_service.cached_caller(caches=db.caches, token=token)
        if cached is not None:
            return cached
        async with db.read() as session:
            caller = await auth_service.caller_by_token(session=session, token=token)
        if caller is None:
            raise Unauthenticated("the API token is unknown, revoked or its user is deactivated")
        return caller
    user_id = request.session.get(SESSION_USER_KEY) if "session" in request.scope else None
    if isinstance(user_id, str):
        async with db.read() as session:
            return await auth_service.caller_by_id(session=session, user_id=user_id)
    return None


async def current_caller(request: Request) -> Caller:
    caller = await optional_caller(request)
    if caller is None:
        raise Unauthenticated(
            "authentication required: send Authorization: Bearer <token> or X-Auth-Token"
        )
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
DB = Annotated[Database, Depends(get_db)]
ClockDep = Annotated[Clock, Depends(get_clock)]
Rules = Annotated[IncidentRules, Depends(get_incident_rules)]


def caller_at_least(role: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: the caller, if they have ``role`` or a higher one (else 403)."""

    async def checked(caller: CurrentCaller) -> Caller:
        auth_service.require_role(caller, role)
        return caller

    return checked


StaffCaller = Annotated[Caller, Depends(caller_at_least(Role.TECHNICIAN))]
ManagerCaller = Annotated[Caller, Depends(caller_at_least(Role.INCIDENT_MANAGER))]
AdminCaller = Annotated[Caller, Depends(caller_at_least(Role.ADMIN))]
ADMIN_ONLY = Depends(caller_at_least(Role.ADMIN))
