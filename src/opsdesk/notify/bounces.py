"""Addresses our mail bounces from: the rule that stops mailing them, and the administrator's
list of them with a way to clear one (a fixed mailbox gets its notifications again).

Inbound mail records the addresses (``intake/email``: a delivery report of one of our mails
adds a bounce to its recipient); this module only reads that record, and clears it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller, Role
from opsdesk.core import jobs
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.notify.mail import MAIL_JOB
from opsdesk.notify.models import BOUNCING_ADDRESS_MAX, BouncingAddress

# Inbound mail marks an address bouncing on the first delivery report it reads for it (there
# is no higher threshold there), so one recorded bounce is enough to stop mailing it.
BOUNCES_TO_SKIP = 1
SKIPPED_PREFIX = "skipped: address bounces"


def is_bouncing(row: BouncingAddress) -> bool:
    return row.bounces >= BOUNCES_TO_SKIP


async def bouncing_among(
    session: AsyncSession, addresses: Iterable[str]
) -> dict[str, BouncingAddress]:
    """The given addresses (compared case-insensitively) that bounce, by lower-case address."""
    wanted = sorted({address.strip().lower() for address in addresses if address.strip()})
    if not wanted:
        return {}
    rows = await session.scalars(select(BouncingAddress).where(BouncingAddress.address.in_(wanted)))
    return {row.address: row for row in rows if is_bouncing(row)}


def skip_reason(row: BouncingAddress) -> str:
    """What a skipped mail's record says, e.g. ``skipped: address bounces (2 bounces, the
    last on 2026-03-02 10:00 UTC: failed 5.1.1 …)``."""
    count = f"{row.bounces} bounce" + ("" if row.bounces == 1 else "s")
    last = f"the last on {row.last_at:%Y-%m-%d %H:%M} UTC"
    status = f": {row.last_status}" if row.last_status else ""
    return f"{SKIPPED_PREFIX} ({count}, {last}{status})"


async def list_bouncing(
    *, session: AsyncSession, caller: Caller, limit: int = 200
) -> list[BouncingAddress]:
    """The addresses notifications are not mailed to, the latest bounce first."""
    auth.require_role(caller, Role.ADMIN)
    rows = await session.scalars(
        select(BouncingAddress)
        .order_by(BouncingAddress.last_at.desc(), BouncingAddress.address)
        .limit(limit)
    )
    return [row for row in rows if is_bouncing(row)]


async def clear_bouncing(*, session: AsyncSession, caller: Caller, address: str) -> None:
    """Forget an address's bounces (its mailbox works again): it is mailed again from now on.

    A later delivery report records it anew.
    """
    auth.require_role(caller, Role.ADMIN)
    key = address.strip().lower()
    if not key or len(key) > BOUNCING_ADDRESS_MAX:
        raise ValidationFailed(
            f"address: must be 1 to {BOUNCING_ADDRESS_MAX} characters", field="address"
        )
    row = await session.get(BouncingAddress, key, with_for_update=True)
    if row is None:
        raise NotFound(f"address: {key} is not recorded as bouncing", field="address")
    await session.delete(row)
    await session.flush()


@dataclass(frozen=True)
class SkippedMail:
    job_id: int
    to: str
    incident: str
    event: str
    at: datetime
    reason: str


async def skipped_mails(
    *, session: AsyncSession, caller: Caller, limit: int = 20
) -> list[SkippedMail]:
    """The latest notifications not mailed because their address bounces, newest first."""
    auth.require_role(caller, Role.ADMIN)
    rows = await session.scalars(
        select(jobs.Job)
        .where(
            jobs.Job.kind == MAIL_JOB,
            jobs.Job.state == jobs.DONE,
            jobs.Job.last_error.startswith(SKIPPED_PREFIX, autoescape=True),
        )
        .order_by(jobs.Job.id.desc())
        .limit(limit)
    )
    return [
        SkippedMail(
            job_id=row.id,
            to=str(row.payload.get("to", "")),
            incident=str(row.payload.get("incident", "")),
            event=str(row.payload.get("event", "")),
            at=row.finished_at or row.created_at,
            reason=row.last_error or "",
        )
        for row in rows
    ]
