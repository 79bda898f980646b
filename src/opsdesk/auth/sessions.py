"""Server-side web sessions: the signed cookie holds a random secret, the table its hash.

Every request with a session cookie looks the session up joined with its user (no
per-process cache), so signing out, "sign out everywhere else", deactivating a user or
changing a password ends a session at once in every server process.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.models import AuthSession, User
from opsdesk.auth.roles import Caller, Role
from opsdesk.core.ids import new_id
from opsdesk.core.settings import Settings

# The key in the signed session cookie that holds the session secret.
SESSION_ID_KEY = "sid"
# Where the session found for this request is kept in the ASGI scope (one lookup a request).
SCOPE_KEY = "opsdesk.web_session"
# last_seen_at is written at most this often, so most requests only read.
TOUCH_EVERY = timedelta(seconds=60)
USER_AGENT_MAX = 300
ADDRESS_MAX = 64


@dataclass(frozen=True)
class SessionPolicy:
    max_age_s: int
    idle_s: int


def session_policy_of(settings: Settings) -> SessionPolicy:
    return SessionPolicy(max_age_s=settings.session_max_age_s, idle_s=settings.session_idle_s)


@dataclass(frozen=True)
class FoundSession:
    """The session a request came with: whose it is and whether last_seen_at is stale."""

    session_id: str
    caller: Caller
    needs_touch: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def start_session(
    *,
    session: AsyncSession,
    user_id: str,
    now: datetime,
    policy: SessionPolicy,
    client_address: str,
    user_agent: str,
) -> tuple[AuthSession, str]:
    """A new session and its secret (for the cookie); the secret itself is never stored."""
    secret = secrets.token_urlsafe(32)
    row = AuthSession(
        id=new_id(),
        secret_hash=_hash(secret),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=policy.max_age_s),
        revoked_at=None,
        client_address=client_address[:ADDRESS_MAX],
        user_agent=user_agent[:USER_AGENT_MAX],
    )
    session.add(row)
    await session.flush()
    return row, secret


async def find_session(
    *, session: AsyncSession, secret: str, now: datetime, policy: SessionPolicy
) -> FoundSession | None:
    """The live session for ``secret``: not ended, not expired, not idle, user active."""
    idle_since = now - timedelta(seconds=policy.idle_s)
    row = (
        await session.execute(
            select(
                AuthSession.id.label("session_id"),
                AuthSession.last_seen_at,
                User.id,
                User.email,
                User.name,
                User.role,
            )
            .join(User, User.id == AuthSession.user_id)
            .where(
                AuthSession.secret_hash == _hash(secret),
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.last_seen_at > idle_since,
                User.active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    caller = Caller(user_id=row.id, email=row.email, name=row.name, role=Role(row.role))
    return FoundSession(
        session_id=row.session_id,
        caller=caller,
        needs_touch=now - row.last_seen_at >= TOUCH_EVERY,
    )


async def caller_from_cookie(
    *,
    session: AsyncSession,
    cookie: Mapping[str, Any],
    scope: MutableMapping[str, Any],
    now: datetime,
    policy: SessionPolicy,
) -> Caller | None:
    """The signed-in caller of a request's cookie, looked up once per request."""
    if SCOPE_KEY in scope:
        found: FoundSession | None = scope[SCOPE_KEY]
        return found.caller if found is not None else None
    secret = cookie.get(SESSION_ID_KEY)
    found = None
    if isinstance(secret, str) and secret:
        found = await find_session(session=session, secret=secret, now=now, policy=policy)
    scope[SCOPE_KEY] = found
    return found.caller if found is not None else None


def found_in(scope: Mapping[str, Any]) -> FoundSession | None:
    """The session looked up for this request, if any."""
    found: FoundSession | None = scope.get(SCOPE_KEY)
    return found


async def touch_session(*, session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.last_seen_at < now - TOUCH_EVERY)
        .values(last_seen_at=now)
    )


async def end_session(*, session: AsyncSession, secret: str, now: datetime) -> str | None:
    """End the session of ``secret``; its user id, or None when it was not live."""
    row = await session.scalar(
        select(AuthSession).where(
            AuthSession.secret_hash == _hash(secret), AuthSession.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    row.revoked_at = now
    await session.flush()
    return row.user_id


async def end_sessions_of(
    *, session: AsyncSession, user_id: str, now: datetime, keep: str | None = None
) -> int:
    """End every live session of a user (but ``keep``); how many were ended."""
    query = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    result = await session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


async def live_sessions(
    *, session: AsyncSession, user_id: str, now: datetime, policy: SessionPolicy
) -> list[AuthSession]:
    """A user's sessions that still let them in, newest first."""
    idle_since = now - timedelta(seconds=policy.idle_s)
    rows = await session.scalars(
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            AuthSession.last_seen_at > idle_since,
        )
        .order_by(AuthSession.created_at.desc(), AuthSession.id)
    )
    return list(rows)


async def count_live_sessions(*, session: AsyncSession, user_id: str, now: datetime) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )
    return int(total or 0)


async def end_own_session(
    *, session: AsyncSession, user_id: str, session_id: str, now: datetime
) -> bool:
    """End one of the user's own sessions by its id; False when there is no such live one."""
    result = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def purge_ended_sessions(
    *, session: AsyncSession, now: datetime, policy: SessionPolicy, limit: int = 5000
) -> int:
    """Delete up to ``limit`` sessions that can never let anyone in again (signed out,
    expired or idle too long); how many went. The auth events keep who signed in when."""
    ended = or_(
        AuthSession.revoked_at.is_not(None),
        AuthSession.expires_at <= now,
        AuthSession.last_seen_at <= now - timedelta(seconds=policy.idle_s),
    )
    ids = list(await session.scalars(select(AuthSession.id).where(ended).limit(limit)))
    if ids:
        await session.execute(
            delete(AuthSession)
            .where(AuthSession.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    return len(ids)
