"""Routes for the caller's own account: web sessions and password change."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from opsdesk.api.deps import DB, ClockDep, CurrentCaller, client_of
from opsdesk.auth import service, signin
from opsdesk.auth.events import EventKind, record_event
from opsdesk.auth.schemas import PasswordChange, PasswordChanged, SessionOut, SessionsEnded
from opsdesk.auth.sessions import (
    end_own_session,
    end_sessions_of,
    found_in,
    live_sessions,
    session_policy_of,
)
from opsdesk.core.errors import NotFound

router = APIRouter(prefix="/api/v1/me", tags=["account"])


def _current_session_id(request: Request) -> str | None:
    found = found_in(request.scope)
    return found.session_id if found is not None else None


@router.get("/sessions", response_model=list[SessionOut])
async def list_my_sessions(
    request: Request, caller: CurrentCaller, db: DB, clock: ClockDep
) -> list[SessionOut]:
    """The caller's live web sessions, newest first; ``current`` marks this request's."""
    current = _current_session_id(request)
    async with db.read() as session:
        rows = await live_sessions(
            session=session,
            user_id=caller.user_id,
            now=clock.now(),
            policy=session_policy_of(request.app.state.settings),
        )
    return [
        SessionOut.model_validate(row).model_copy(update={"current": row.id == current})
        for row in rows
    ]


@router.post("/sessions/end-others", response_model=SessionsEnded)
async def end_other_sessions(
    request: Request, caller: CurrentCaller, db: DB, clock: ClockDep
) -> SessionsEnded:
    """Sign out everywhere else: every web session of the caller but this request's."""
    now = clock.now()
    async with db.write() as session:
        ended = await end_sessions_of(
            session=session, user_id=caller.user_id, now=now, keep=_current_session_id(request)
        )
        await record_event(
            session=session,
            kind=EventKind.SIGNED_OUT_ELSEWHERE,
            email=caller.email,
            user_id=caller.user_id,
            client=client_of(request),
            now=now,
            reason=f"{ended} session(s) ended",
        )
    return SessionsEnded(ended_sessions=ended)


@router.delete("/sessions/{session_id}", status_code=204)
async def end_my_session(
    session_id: str, caller: CurrentCaller, db: DB, clock: ClockDep
) -> Response:
    async with db.write() as session:
        ended = await end_own_session(
            session=session, user_id=caller.user_id, session_id=session_id, now=clock.now()
        )
    if not ended:
        raise NotFound(f"no live session with id {session_id}", field="session_id")
    return Response(status_code=204)


@router.post("/password", response_model=PasswordChanged)
async def change_my_password(
    body: PasswordChange, request: Request, caller: CurrentCaller, db: DB, clock: ClockDep
) -> PasswordChanged:
    """Check the current password (throttled like sign-in), set the new one, end the others."""
    now = clock.now()
    client = client_of(request)
    await signin.check_password(
        db=db,
        email=caller.email,
        password=body.current_password,
        client=client,
        rules=signin.throttle_rules_of(request.app.state.settings),
        now=now,
        purpose="password change",
    )
    async with db.write() as session:
        ended = await service.change_own_password(
            session=session,
            caller=caller,
            new_password=body.new_password,
            now=now,
            client=client,
            keep_session=_current_session_id(request),
        )
    return PasswordChanged(ended_sessions=ended)
