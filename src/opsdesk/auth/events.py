"""Auth events: every sign-in, failed or throttled sign-in, sign-out and password change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.models import AuthEvent
from opsdesk.auth.roles import Caller, Role
from opsdesk.core.errors import Forbidden
from opsdesk.core.pagination import Page, PageRequest


class EventKind(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_THROTTLED = "sign_in_throttled"
    SIGN_OUT = "sign_out"
    SIGNED_OUT_ELSEWHERE = "signed_out_elsewhere"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name, not a password)
    PASSWORD_RESET = "password_reset"  # noqa: S105
    SESSIONS_ENDED = "sessions_ended"


@dataclass(frozen=True)
class Client:
    """Where a request came from: the ASGI client host (the proxy's, unless trusted)."""

    address: str
    user_agent: str


SYSTEM_CLIENT = Client(address="system", user_agent="")


async def record_event(
    *,
    session: AsyncSession,
    kind: EventKind,
    email: str,
    user_id: str | None,
    client: Client,
    now: datetime,
    reason: str = "",
) -> None:
    session.add(
        AuthEvent(
            at=now,
            kind=kind.value,
            email=email.strip()[:254],
            user_id=user_id,
            client_address=client.address[:64],
            user_agent=client.user_agent[:300],
            reason=reason[:200],
        )
    )
    await session.flush()


async def list_events(
    *,
    session: AsyncSession,
    caller: Caller,
    page: PageRequest,
    kind: EventKind | None = None,
    email: str | None = None,
    user_id: str | None = None,
    client_address: str | None = None,
) -> Page[AuthEvent]:
    """Newest first; administrators only."""
    if not caller.can(Role.ADMIN):
        raise Forbidden("auth events are for administrators")
    query = select(AuthEvent)
    if kind is not None:
        query = query.where(AuthEvent.kind == kind.value)
    if email:
        query = query.where(func.lower(AuthEvent.email) == email.strip().lower())
    if user_id:
        query = query.where(AuthEvent.user_id == user_id)
    if client_address:
        query = query.where(AuthEvent.client_address == client_address)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(AuthEvent.at.desc(), AuthEvent.id.desc())
        .offset(page.offset)
        .limit(page.per_page)
    )
    return Page(items=list(rows), total=total, page=page.page, per_page=page.per_page)


async def purge_events(*, session: AsyncSession, before: datetime, limit: int = 5000) -> int:
    """Delete up to ``limit`` auth events older than ``before`` (the retention setting)."""
    ids = list(
        await session.scalars(
            select(AuthEvent.id).where(AuthEvent.at < before).order_by(AuthEvent.at).limit(limit)
        )
    )
    if ids:
        await session.execute(
            delete(AuthEvent)
            .where(AuthEvent.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    return len(ids)
