"""The one rule every password-taking entry point goes through: throttle, verify, record.

Failed passwords are counted per account (the e-mail address as given, known or not) and
per client address, in one UPSERT per key so that several server processes on PostgreSQL
agree. After a few failures the key is blocked for a wait that doubles with each further
failure; a correct password after the wait gets in (throttling, never a permanent lockout).
A blocked attempt is refused before any password is checked, and unknown addresses are
verified against a dummy argon2 hash, so the answer time does not tell whether an account
exists.

This rule owns its transactions: the failure count and the auth event must be committed
even though the request itself then fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.events import Client, EventKind, record_event
from opsdesk.auth.models import AuthThrottle, User
from opsdesk.auth.passwords import verify_password
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.throttling import (
    ThrottlePolicy,
    ThrottleRules,
    account_key,
    address_key,
    retry_after_s,
)
from opsdesk.core.database import Database
from opsdesk.core.errors import TooManyAttempts, ValidationFailed
from opsdesk.core.settings import Settings


def throttle_rules_of(settings: Settings) -> ThrottleRules:
    return ThrottleRules(
        account=ThrottlePolicy(
            free_failures=settings.signin_free_failures,
            first_delay_s=settings.signin_first_delay_s,
            max_delay_s=settings.signin_max_delay_s,
        ),
        address=ThrottlePolicy(
            free_failures=settings.signin_free_failures_per_address,
            first_delay_s=settings.signin_first_delay_s,
            max_delay_s=settings.signin_max_delay_s,
        ),
        forget_after_s=settings.signin_forget_s,
    )


async def _blocked_until(session: AsyncSession, keys: list[str], now: datetime) -> datetime | None:
    rows = await session.scalars(
        select(AuthThrottle.blocked_until).where(
            AuthThrottle.key.in_(keys), AuthThrottle.blocked_until > now
        )
    )
    until = [row for row in rows if row is not None]
    return max(until) if until else None


async def count_failure(
    *,
    session: AsyncSession,
    key: str,
    policy: ThrottlePolicy,
    forget_after_s: float,
    now: datetime,
) -> int:
    """Add one failure to ``key`` atomically; the new count (1 when the old ones expired)."""
    forget_before = now - timedelta(seconds=forget_after_s)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(AuthThrottle)
        .values(key=key, failures=1, last_failure_at=now, blocked_until=None)
        .on_conflict_do_update(
            index_elements=[AuthThrottle.key],
            set_={
                "failures": case(
                    (AuthThrottle.last_failure_at < forget_before, 1),
                    else_=AuthThrottle.failures + 1,
                ),
                "last_failure_at": now,
            },
        )
        .returning(AuthThrottle.failures)
    )
    failures = int((await session.execute(statement)).scalar_one())
    delay = policy.delay_after(failures)
    if delay > 0:
        # The UPSERT above holds the row lock until commit, so this cannot interleave.
        await session.execute(
            update(AuthThrottle)
            .where(AuthThrottle.key == key)
            .values(blocked_until=now + timedelta(seconds=delay))
        )
    return failures


async def check_password(
    *,
    db: Database,
    email: str,
    password: str,
    client: Client,
    rules: ThrottleRules,
    now: datetime,
    purpose: str,
) -> Caller:
    """The caller for a correct e-mail and password, or TooManyAttempts / ValidationFailed."""
    email_key = account_key(email)
    keys = [email_key, address_key(client.address)]
    async with db.read() as session:
        blocked_until = await _blocked_until(session, keys, now)
        user = None
        if blocked_until is None:
            user = await session.scalar(
                select(User).where(User.email == email.strip().lower()[:254])
            )
    if blocked_until is not None:
        async with db.write() as session:
            await record_event(
                session=session,
                kind=EventKind.SIGN_IN_THROTTLED,
                email=email,
                user_id=None,
                client=client,
                now=now,
                reason=purpose,
            )
        wait = retry_after_s(blocked_until, now)
        raise TooManyAttempts(
            f"too many failed attempts: try again in {wait} seconds",
            retry_after_s=wait,
            field="password",
        )
    # argon2 runs outside any transaction; a missing user is checked against a dummy hash.
    hash_to_check = user.password_hash if user is not None and user.active else None
    correct = verify_password(hash_to_check, password) and user is not None
    async with db.write() as session:
        if correct and user is not None:
            # Only the account's count is cleared: one good password must not reset the
            # count of an address that is guessing at other accounts.
            await session.execute(delete(AuthThrottle).where(AuthThrottle.key == email_key))
        else:
            await count_failure(
                session=session,
                key=email_key,
                policy=rules.account,
                forget_after_s=rules.forget_after_s,
                now=now,
            )
            await count_failure(
                session=session,
                key=keys[1],
                policy=rules.address,
                forget_after_s=rules.forget_after_s,
                now=now,
            )
            await record_event(
                session=session,
                kind=EventKind.SIGN_IN_FAILED,
                email=email,
                user_id=user.id if user is not None else None,
                client=client,
                now=now,
                reason=f"{purpose}: wrong e-mail or password",
            )
    if not correct or user is None:
        raise ValidationFailed("wrong email or password", field="password")
    return Caller(user_id=user.id, email=user.email, name=user.name, role=Role(user.role))
