"""User and token use cases; every verb takes the session and the caller as keywords."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.events import SYSTEM_CLIENT, Client, EventKind, record_event
from opsdesk.auth.models import ApiToken, User
from opsdesk.auth.passwords import hash_password, verify_password
from opsdesk.auth.roles import STAFF_ROLES, Caller, Role
from opsdesk.auth.schemas import UserCreate, UserUpdate
from opsdesk.auth.sessions import end_sessions_of
from opsdesk.core.cache import TTLCache, cache_of, forget
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.core.ids import new_id, new_token
from opsdesk.core.pagination import Page, PageRequest


def caller_of(user: User) -> Caller:
    return Caller(user_id=user.id, email=user.email, name=user.name, role=Role(user.role))


def require_role(caller: Caller, needed: Role) -> None:
    if not caller.can(needed):
        raise Forbidden(
            f"this needs the role {needed.value} or higher; you are {caller.role.value}"
        )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    *, session: AsyncSession, data: UserCreate, now: datetime, caller: Caller | None = None
) -> User:
    """Create a user; ``caller`` is None only for the CLI and demo loader (trusted)."""
    if caller is not None:
        require_role(caller, Role.ADMIN)
    existing = await session.scalar(select(User.id).where(User.email == data.email))
    if existing is not None:
        raise Conflict(f"a user with email {data.email} already exists", field="email")
    user = User(
        id=new_id(),
        email=data.email,
        name=data.name or data.email.split("@", 1)[0],
        role=data.role.value,
        password_hash=hash_password(data.password) if data.password else None,
        active=True,
        organisation=data.organisation or None,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(*, session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    return user


async def get_user_by_email(*, session: AsyncSession, email: str) -> User:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}", field="email")
    return user


async def users_by_email(*, session: AsyncSession, emails: Collection[str]) -> dict[str, User]:
    """The users with these (lower-case) addresses, by address; unknown ones are left out."""
    if not emails:
        return {}
    wanted = sorted({email.strip().lower() for email in emails})
    rows = await session.scalars(select(User).where(User.email.in_(wanted)))
    return {user.email: user for user in rows}


async def list_users(
    *, session: AsyncSession, caller: Caller, page: PageRequest, role: Role | None = None
) -> Page[User]:
    require_role(caller, Role.TECHNICIAN)
    query = select(User)
    if role is not None:
        query = query.where(User.role == role.value)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(User.email).offset(page.offset).limit(page.per_page)
    )
    return Page(items=list(rows), total=total, page=page.page, per_page=page.per_page)


async def active_staff(*, session: AsyncSession) -> list[User]:
    """Active technicians and above, by name: whom an incident can be handed to."""
    staff = [role.value for role in STAFF_ROLES]
    rows = await session.scalars(
        select(User).where(User.active.is_(True), User.role.in_(staff)).order_by(User.name)
    )
    return list(rows)


async def staff_by_id(*, session: AsyncSession, user_ids: Collection[str]) -> dict[str, User]:
    """The active technicians and above among ``user_ids``; others are left out."""
    if not user_ids:
        return {}
    staff = [role.value for role in STAFF_ROLES]
    rows = await session.scalars(
        select(User).where(User.id.in_(set(user_ids)), User.active.is_(True), User.role.in_(staff))
    )
    return {user.id: user for user in rows}


def active_staff_ids() -> Select[str]:
    """A subquery of the ids of active staff, for other features' queries to filter by."""
    staff = [role.value for role in STAFF_ROLES]
    return select(User.id).where(User.active.is_(True), User.role.in_(staff))


async def display_names(*, session: AsyncSession, user_ids: Collection[str]) -> dict[str, str]:
    """User id → display name for the given ids (unknown ids are left out)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(set(user_ids))))
    return {str(row.id): str(row.name) for row in rows}


async def organisations_of(
    *, session: AsyncSession, user_ids: Collection[str]
) -> dict[str, str | None]:
    """User id → organisation (None when the user has none), in one query."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.organisation).where(User.id.in_(set(user_ids)))
    )
    return {str(row.id): row.organisation for row in rows}


async def update_user(
    *, session: AsyncSession, caller: Caller, user_id: str, data: UserUpdate, now: datetime
) -> User:
    require_role(caller, Role.ADMIN)
    user = await get_user(session=session, user_id=user_id)
    if user.id == caller.user_id and (
        (data.role is not None and data.role != Role.ADMIN) or data.active is False
    ):
        raise ValidationFailed("you cannot demote or deactivate yourself", field="role")
    if data.name is not None:
        user.name = data.name
    if data.role is not None:
        user.role = data.role.value
    if data.password is not None:
        user.password_hash = hash_password(data.password)
    if data.active is not None:
        user.active = data.active
    if data.organisation is not None:
        user.organisation = data.organisation or None
    user.updated_at = now
    await session.flush()
    forget(session, "callers")
    # A reset password or a deactivated user ends every web session of that user at once.
    if data.password is not None or data.active is False:
        ended = await end_sessions_of(session=session, user_id=user.id, now=now)
        reset = data.password is not None
        await record_event(
            session=session,
            kind=EventKind.PASSWORD_RESET if reset else EventKind.SESSIONS_ENDED,
            email=user.email,
            user_id=user.id,
            client=SYSTEM_CLIENT,
            now=now,
            reason=f"by {caller.email}; {ended} session(s) ended",
        )
    forget(session, "access_keys")
    return user


async def change_own_password(
    *,
    session: AsyncSession,
    caller: Caller,
    new_password: str,
    now: datetime,
    client: Client,
    keep_session: str | None,
) -> int:
    """Set the caller's password (the old one already checked); ends their other sessions."""
    user = await get_user(session=session, user_id=caller.user_id)
    if verify_password(user.password_hash, new_password):
        raise ValidationFailed("the new password is the current one", field="new_password")
    user.password_hash = hash_password(new_password)
    user.updated_at = now
    ended = await end_sessions_of(session=session, user_id=user.id, now=now, keep=keep_session)
    await record_event(
        session=session,
        kind=EventKind.PASSWORD_CHANGED,
        email=user.email,
        user_id=user.id,
        client=client,
        now=now,
        reason=f"{ended} other session(s) ended",
    )
    return ended


async def caller_by_id(*, session: AsyncSession, user_id: str) -> Caller | None:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        return None
    return caller_of(user)


async def create_token(
    *, session: AsyncSession, user_id: str, name: str, now: datetime
) -> tuple[ApiToken, str]:
    """A new API token; the plain token is returned once and never stored."""
    user = await get_user(session=session, user_id=user_id)
    if not user.active:
        raise ValidationFailed("the user is deactivated", field="user_id")
    token = new_token()
    row = ApiToken(
        id=new_id(),
        user_id=user.id,
        name=name,
        token_hash=_token_hash(token),
        created_at=now,
        revoked_at=None,
    )
    session.add(row)
    await session.flush()
    return row, token


async def list_tokens(*, session: AsyncSession, user_id: str) -> list[ApiToken]:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at)
    )
    return list(rows)


async def revoke_token(
    *, session: AsyncSession, caller: Caller, token_id: str, now: datetime
) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None or (row.user_id != caller.user_id and not caller.can(Role.ADMIN)):
        raise NotFound(f"no token with id {token_id}", field="token_id")
    if row.revoked_at is None:
        row.revoked_at = now
    await session.flush()
    forget(session, "callers")
    return row


async def caller_by_token(*, session: AsyncSession, token: str) -> Caller | None:
    """The caller a token stands for, or None.

    Every API request asks this, so answers are cached for a few seconds; a revocation or
    user change in this process clears the cache, other processes see it within the TTL.
    """
    digest = _token_hash(token)
    cache = cache_of(session, "callers")
    if cache is not None:
        cached: Caller | None = cache.get(digest)
        if cached is not None:
            return cached
    row = (
        await session.execute(
            select(User.id, User.email, User.name, User.role)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == digest,
                ApiToken.revoked_at.is_(None),
                User.active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    caller = Caller(user_id=row.id, email=row.email, name=row.name, role=Role(row.role))
    if cache is not None:
        cache.put(digest, caller)
    return caller


def cached_caller(*, caches: Mapping[str, TTLCache], token: str) -> Caller | None:
    """The caller of a recently seen token without touching the database, or None."""
    cached: Caller | None = caches["callers"].get(_token_hash(token))
    return cached
