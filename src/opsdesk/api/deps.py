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

from opsdesk.api.signed_requests import signed_caller
from opsdesk.auth import service as auth_service
from opsdesk.auth import signing
from opsdesk.auth.events import Client
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.sessions import caller_from_cookie, session_policy_of
from opsdesk.core.clock import Clock
from opsdesk.core.database import Database
from opsdesk.core.errors import Unauthenticated
from opsdesk.incidents.rules import IncidentRules


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
    authorization = request.headers.get("authorization", "")
    if signing.is_signed(authorization):
        return await signed_caller(request, authorization)
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
    if "session" not in request.scope or not request.session:
        return None
    clock: Clock = request.app.state.clock
    async with db.read() as session:
        return await caller_from_cookie(
            session=session,
            cookie=request.session,
            scope=request.scope,
            now=clock.now(),
            policy=session_policy_of(request.app.state.settings),
        )


def client_of(request: Request) -> Client:
    """The client address (the ASGI client host) and user agent of a request."""
    address = request.client.host if request.client is not None else "unknown"
    return Client(address=address, user_agent=request.headers.get("user-agent", ""))


async def current_caller(request: Request) -> Caller:
    caller = await optional_caller(request)
    if caller is None:
        raise Unauthenticated(
            "authentication required: send Authorization: Bearer <token> or X-Auth-Token, "
            "or sign the request with an access key (SDK-HMAC-SHA256)"
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
STAFF_ONLY = Depends(caller_at_least(Role.TECHNICIAN))
