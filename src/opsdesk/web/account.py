"""The "my account" page: the caller's web sessions, sign out everywhere else, password."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth import service as auth_service
from opsdesk.auth import signin
from opsdesk.auth.events import EventKind, record_event
from opsdesk.auth.passwords import MIN_PASSWORD_LENGTH
from opsdesk.auth.roles import Caller
from opsdesk.auth.sessions import end_sessions_of, found_in, live_sessions, session_policy_of
from opsdesk.core.errors import TooManyAttempts, ValidationFailed
from opsdesk.web.common import (
    SESSION_FLASH_KEY,
    _caller,
    _client,
    _clock,
    _csrf_failed,
    _csrf_ok,
    _db,
    _format_time,
    _redirect,
    _render,
    _signed_in,
    _text,
    _to_login,
)

router = APIRouter(include_in_schema=False)

PASSWORD_MAX = 1024


@dataclass(frozen=True)
class SessionRow:
    started: str
    last_seen: str
    address: str
    browser: str
    current: bool


def _current_session_id(request: Request) -> str | None:
    found = found_in(request.scope)
    return found.session_id if found is not None else None


async def _account_page(
    request: Request,
    caller: Caller,
    *,
    error: str | None = None,
    status_code: int = 200,
    retry_after_s: int | None = None,
) -> Response:
    current = _current_session_id(request)
    async with _db(request).read() as session:
        rows = await live_sessions(
            session=session,
            user_id=caller.user_id,
            now=_clock(request).now(),
            policy=session_policy_of(request.app.state.settings),
        )
    sessions = [
        SessionRow(
            started=_format_time(row.created_at),
            last_seen=_format_time(row.last_seen_at),
            address=row.client_address,
            browser=row.user_agent or "unknown",
            current=row.id == current,
        )
        for row in rows
    ]
    response = _render(
        request,
        "account.html",
        {
            "sessions": sessions,
            "others": sum(1 for row in sessions if not row.current),
            "password_error": error,
            "min_password": MIN_PASSWORD_LENGTH,
        },
        caller=caller,
        status_code=status_code,
    )
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


@router.get("/account")
async def account_page(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    return await _account_page(request, caller)


@router.post("/account/sessions/end-others")
async def end_other_sessions(request: Request) -> Response:
    form = await request.form()
    now = _clock(request).now()
    async with _db(request).write() as session:
        caller = await _caller(request, session)
        if caller is None:
            return _to_login(request)
        if not _csrf_ok(request, form):
            return _csrf_failed(request, caller)
        ended = await end_sessions_of(
            session=session, user_id=caller.user_id, now=now, keep=_current_session_id(request)
        )
        await record_event(
            session=session,
            kind=EventKind.SIGNED_OUT_ELSEWHERE,
            email=caller.email,
            user_id=caller.user_id,
            client=_client(request),
            now=now,
            reason=f"{ended} session(s) ended",
        )
    request.session[SESSION_FLASH_KEY] = f"Signed out everywhere else ({ended} session(s) ended)."
    return _redirect("/account")


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    form = await request.form()
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if not _csrf_ok(request, form):
        return _csrf_failed(request, caller)
    current, new, again = (
        _text(form, "current_password"),
        _text(form, "new_password"),
        _text(form, "new_password_again"),
    )
    if not MIN_PASSWORD_LENGTH <= len(new) <= PASSWORD_MAX:
        message = f"The new password must be {MIN_PASSWORD_LENGTH} to {PASSWORD_MAX} characters."
        return await _account_page(request, caller, error=message, status_code=422)
    if new != again:
        message = "The two new passwords differ."
        return await _account_page(request, caller, error=message, status_code=422)
    now = _clock(request).now()
    client = _client(request)
    try:
        await signin.check_password(
            db=_db(request),
            email=caller.email,
            password=current,
            client=client,
            rules=signin.throttle_rules_of(request.app.state.settings),
            now=now,
            purpose="password change",
        )
        async with _db(request).write() as session:
            ended = await auth_service.change_own_password(
                session=session,
                caller=caller,
                new_password=new,
                now=now,
                client=client,
                keep_session=_current_session_id(request),
            )
    except TooManyAttempts as exc:
        message = f"Too many wrong passwords. Try again in {exc.retry_after_s} seconds."
        return await _account_page(
            request, caller, error=message, status_code=429, retry_after_s=exc.retry_after_s
        )
    except ValidationFailed as exc:
        message = (
            "The current password is wrong."
            if exc.field == "password"
            else exc.message[:1].upper() + exc.message[1:] + "."
        )
        return await _account_page(request, caller, error=message, status_code=422)
    request.session[SESSION_FLASH_KEY] = f"Password changed; {ended} other session(s) signed out."
    return _redirect("/account")
