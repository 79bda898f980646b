"""Access keys (AK/SK): create, list, revoke, and the lookup that signed requests use."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.models import AccessKey, User
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.secret_box import SecretBox, SecretUnreadable
from opsdesk.auth.service import get_user
from opsdesk.core.cache import TTLCache, cache_of, forget
from opsdesk.core.errors import NotFound, ValidationFailed

# Huawei Cloud's shapes: a 20-character access key id, a 40-character secret key.
_AK_ALPHABET = string.ascii_uppercase + string.digits
_SK_ALPHABET = string.ascii_letters + string.digits
ACCESS_KEY_LENGTH = 20
SECRET_KEY_LENGTH = 40
MAX_ACCESS_KEY_ID_LENGTH = 32  # the column's width: a longer one cannot exist
# A key's last use is written at most this often per process (a write per request would
# cost more than the signature check itself).
LAST_USED_RESOLUTION_S = 60.0


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class SigningKey:
    """What checking a signature needs to know about an access key."""

    access_key_id: str
    secret: str | None  # None when it cannot be opened (the server's secret key changed)
    caller: Caller | None  # None when the key's user is deactivated
    revoked: bool


async def create_access_key(
    *, session: AsyncSession, user_id: str, name: str, now: datetime, box: SecretBox
) -> tuple[AccessKey, str]:
    """A new access key; the secret key is returned once and stored only sealed."""
    user = await get_user(session=session, user_id=user_id)
    if not user.active:
        raise ValidationFailed("the user is deactivated", field="user_id")
    access_key_id = _random(_AK_ALPHABET, ACCESS_KEY_LENGTH)
    secret = _random(_SK_ALPHABET, SECRET_KEY_LENGTH)
    row = AccessKey(
        id=access_key_id,
        user_id=user.id,
        name=name,
        secret_sealed=box.seal(secret, access_key_id=access_key_id),
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def list_access_keys(*, session: AsyncSession, user_id: str | None) -> list[AccessKey]:
    """One user's keys, or everyone's (``user_id`` None: for administrators only)."""
    query = select(AccessKey).order_by(AccessKey.created_at, AccessKey.id)
    if user_id is not None:
        query = query.where(AccessKey.user_id == user_id)
    return list(await session.scalars(query))


async def owners_of(*, session: AsyncSession, user_ids: set[str]) -> dict[str, str]:
    """User id → "name <email>", for listing keys."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.name, User.email).where(User.id.in_(user_ids))
    )
    return {str(row.id): f"{row.name} <{row.email}>" for row in rows}


async def revoke_access_key(
    *, session: AsyncSession, caller: Caller, access_key_id: str, now: datetime
) -> AccessKey:
    """Revoke one's own key (an administrator: anyone's); revoking twice is harmless."""
    row = await session.get(AccessKey, access_key_id)
    if row is None or (row.user_id != caller.user_id and not caller.can(Role.ADMIN)):
        raise NotFound(f"no access key {access_key_id}", field="access_key_id")
    if row.revoked_at is None:
        row.revoked_at = now
    await session.flush()
    forget(session, "access_keys")
    return row


async def signing_key(
    *, session: AsyncSession, access_key_id: str, box: SecretBox
) -> SigningKey | None:
    """The key a signed request names, or None when there is no such key.

    Every signed request asks this, so answers (revoked ones too) are cached for a few
    seconds (``core/cache.py``): a revocation in this process is seen at once, in other
    processes within the cache's lifetime, as for API tokens.
    """
    cache = cache_of(session, "access_keys")
    if cache is not None:
        cached: SigningKey | None = cache.get(access_key_id)
        if cached is not None:
            return cached
    row = (
        await session.execute(
            select(
                AccessKey.secret_sealed,
                AccessKey.revoked_at,
                User.id,
                User.email,
                User.name,
                User.role,
                User.active,
            )
            .join(User, User.id == AccessKey.user_id)
            .where(AccessKey.id == access_key_id)
        )
    ).first()
    if row is None:
        return None
    try:
        secret: str | None = box.open(row.secret_sealed, access_key_id=access_key_id)
    except SecretUnreadable:
        secret = None
    caller = (
        Caller(user_id=row.id, email=row.email, name=row.name, role=Role(row.role))
        if row.active
        else None
    )
    key = SigningKey(
        access_key_id=access_key_id,
        secret=secret,
        caller=caller,
        revoked=row.revoked_at is not None,
    )
    if cache is not None:
        cache.put(access_key_id, key)
    return key


def cached_signing_key(*, caches: Mapping[str, TTLCache], access_key_id: str) -> SigningKey | None:
    """A recently looked-up key without touching the database, or None."""
    cached: SigningKey | None = caches["access_keys"].get(access_key_id)
    return cached


async def record_use(*, session: AsyncSession, access_key_id: str, now: datetime) -> None:
    await session.execute(
        update(AccessKey).where(AccessKey.id == access_key_id).values(last_used_at=now)
    )
