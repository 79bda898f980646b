"""Addresses our mail bounces from: recording them, the rule that stops mailing them, and the
administrator's list of them with a way to clear one (a fixed mailbox gets its mail again).

Inbound mail reads the delivery reports (``intake/email``) and calls ``record_bounce`` for
the recipient of a permanent failure; every sender (notifications, status updates, intake's
automatic replies) leaves a bouncing address out and records the mail as skipped, and the
sending handler checks again right before sending (``bouncing_now``), for mail queued
before its address started bouncing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller, Role
from opsdesk.core import jobs
from opsdesk.core.database import Database
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.notify.mail import MAIL_JOB, OutgoingMail
from opsdesk.notify.models import BOUNCING_ADDRESS_MAX, BouncingAddress

# Only permanent failures are recorded (a delayed report is not), so one is enough to stop
# mailing the address.
BOUNCES_TO_SKIP = 1
SKIPPED_PREFIX = "skipped: address bounces"
STATUS_MAX = 200


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


async def record_bounce(
    session: AsyncSession,
    *,
    address: str,
    detail: str,
    now: datetime,
    incident_id: int | None = None,
) -> BouncingAddress:
    """Count a permanent delivery failure to ``address`` (folded to lower case); ``detail``
    is the report's action, status and diagnostic, kept as the last status."""
    key = address.strip().lower()
    if not key or len(key) > BOUNCING_ADDRESS_MAX:
        raise ValidationFailed(
            f"address: must be 1 to {BOUNCING_ADDRESS_MAX} characters", field="address"
        )
    row = await session.get(BouncingAddress, key, with_for_update=True)
    if row is None:
        row = BouncingAddress(address=key, bounces=0, first_at=now)
        session.add(row)
    row.bounces += 1
    row.last_at = now
    row.last_status = detail[:STATUS_MAX]
    row.last_incident_id = incident_id
    await session.flush()
    return row


async def without_bouncing(
    session: AsyncSession, mails: Sequence[OutgoingMail], *, now: datetime
) -> list[OutgoingMail]:
    """The mails to send: one to an address that bounces is recorded as skipped instead
    (a ``done`` job saying why, listed on the admin page) and left out."""
    bouncing = await bouncing_among(session, (mail.to for mail in mails))
    kept = []
    for mail in mails:
        bounced = bouncing.get(mail.to.strip().lower())
        if bounced is None:
            kept.append(mail)
            continue
        await jobs.record_skipped(
            session, kind=MAIL_JOB, payload=mail.to_payload(), reason=skip_reason(bounced), now=now
        )
    return kept


async def bouncing_now(db: Database, address: str) -> str | None:
    """Why a queued mail to ``address`` must not be sent after all (``skip_reason``), or
    None: the check the sending handler makes right before sending."""
    async with db.read() as session:
        bounced = (await bouncing_among(session, [address])).get(address.strip().lower())
    return None if bounced is None else skip_reason(bounced)


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
    """The latest mails (notifications, status updates, automatic replies) not sent because
    their address bounces, newest first."""
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
