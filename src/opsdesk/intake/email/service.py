"""Inbound mail use cases: store the raw mail, then turn it into the one service call it means.

Storing and processing are two steps in two transactions. ``store_mail`` keeps the bytes
(deduplicated by Message-ID) and is all a door waits for before it says "OK" to the sender;
``process_pending`` then parses each stored mail and creates an incident, posts a public
reply, reopens, opens a linked follow-up, records a bounce, ignores an auto-reply, holds a
runaway sender or refuses with a reason. A mail whose processing fails is marked ``failed``
with the reason and kept for an administrator: nothing received is ever dropped.

This module is the pipeline (store, batch, decide, record the outcome); what stops a mail is
in ``screening``, which incident it belongs to in ``matching``, what it does to incidents
in ``incident_mail``, and the rules and outcome words in ``outcomes``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.core.errors import Conflict, NotFound, OpsdeskError
from opsdesk.intake.email import incident_mail, matching, screening
from opsdesk.intake.email.models import ADDRESS_MAX, MESSAGE_ID_MAX, SUBJECT_MAX, InboundMail
from opsdesk.intake.email.outcomes import MailResult, MailRules, MailStatus, Outcome
from opsdesk.intake.email.parser import MailUnreadable, ParsedMail, parse_mail, peek_message_id

log = logging.getLogger(__name__)

DOORS = frozenset({"smtp", "imap", "pipe"})


@dataclass(frozen=True)
class StoredMail:
    id: int
    duplicate: bool


def dedupe_key(raw: bytes) -> tuple[str, str]:
    """The key a mail is stored under (its Message-ID, else a hash) and its SHA-256."""
    sha256 = hashlib.sha256(raw).hexdigest()
    message_id = peek_message_id(raw)
    return (message_id or f"sha256:{sha256}")[:MESSAGE_ID_MAX], sha256


async def store_mail(
    session: AsyncSession,
    *,
    raw: bytes,
    door: str,
    now: datetime,
    envelope_from: str = "",
    envelope_to: Sequence[str] = (),
) -> StoredMail:
    """Keep the raw mail (once per Message-ID); the door commits before it acknowledges."""
    if door not in DOORS:
        raise ValueError(f"door: one of {sorted(DOORS)}")
    message_id, sha256 = dedupe_key(raw)
    table: Table = InboundMail.__table__  # type: ignore[assignment]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(
            message_id=message_id,
            raw=raw,
            size=len(raw),
            sha256=sha256,
            door=door,
            envelope_from=envelope_from[:ADDRESS_MAX],
            envelope_to=", ".join(envelope_to),
            sender="",
            subject="",
            received_at=now,
            status=str(MailStatus.PENDING),
            outcome=None,
            reason="",
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(table.c.id)
    )
    new_id = (await session.execute(statement)).scalar_one_or_none()
    if new_id is not None:
        return StoredMail(id=int(new_id), duplicate=False)
    existing = await session.scalar(
        select(InboundMail.id).where(InboundMail.message_id == message_id)
    )
    return StoredMail(id=int(existing or 0), duplicate=True)


@dataclass
class _Batch:
    """What a batch of mails looks up once instead of once per mail."""

    users: dict[str, User | None]
    recent: Counter[str]  # mails per sender already in the rate-limit window
    threads: dict[str, str]  # Message-ID → incident number, for this batch's own mails


async def _load_batch(
    session: AsyncSession, parsed: list[ParsedMail], rules: MailRules, now: datetime, first_id: int
) -> _Batch:
    senders = sorted({mail.from_address for mail in parsed if mail.from_address})
    users: dict[str, User | None] = dict.fromkeys(senders)
    users.update(await auth_service.users_by_email(session=session, emails=senders))
    recent: Counter[str] = Counter()
    if rules.rate_limit > 0 and senders:
        counted = await session.execute(
            select(InboundMail.sender, func.count())
            .where(
                InboundMail.sender.in_(senders),
                InboundMail.received_at > now - rules.rate_window,
                InboundMail.id < first_id,
            )
            .group_by(InboundMail.sender)
        )
        recent.update({sender: int(count) for sender, count in counted.tuples()})
    return _Batch(users=users, recent=recent, threads={})


async def process_pending(
    session: AsyncSession, *, rules: MailRules, now: datetime, limit: int = 50
) -> int:
    """Process up to ``limit`` stored mails, oldest first; returns how many."""
    query = (
        select(InboundMail)
        .where(InboundMail.status == str(MailStatus.PENDING))
        .order_by(InboundMail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(await session.scalars(query))
    ids = [row.id for row in rows]
    if not rows:
        return 0
    # Optimistically the whole batch under one savepoint, its users and rate counts looked
    # up once and its outcomes written in one statement; if any mail fails, the batch is
    # rolled back and done again with a savepoint per mail, so one bad mail costs only
    # itself (per-mail savepoints and lookups from the start cost half the throughput).
    for row in rows:
        session.expunge(row)
    try:
        async with session.begin_nested():
            parsed = [(row, _parse(row, now)) for row in rows]
            batch = await _load_batch(
                session, [p for _, p in parsed if isinstance(p, ParsedMail)], rules, now, ids[0]
            )
            for row, mail in parsed:
                result = mail if isinstance(mail, MailResult) else None
                if isinstance(mail, ParsedMail):
                    result = await _decide(session, row, mail, rules, now, False, batch)
                    batch.recent[row.sender] += 1
                    if result.incident is not None:
                        batch.threads[row.message_id] = result.incident.number
                assert result is not None
                _record(row, result)
            await _write_outcomes(session, rows)
    except Exception:
        log.info("a mail in a batch of %d failed; processing them one by one", len(ids))
        for mail_id in ids:
            again = await session.get(InboundMail, mail_id, populate_existing=True)
            if again is not None:
                await process_mail(session, mail=again, rules=rules, now=now)
    return len(ids)


_OUTCOME_COLUMNS = (
    "attempts",
    "processed_at",
    "sender",
    "subject",
    "status",
    "outcome",
    "reason",
    "incident_id",
    "incident_number",
    "related_number",
    "conversation_id",
)


async def _write_outcomes(session: AsyncSession, rows: list[InboundMail]) -> None:
    table: Table = InboundMail.__table__  # type: ignore[assignment]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in _OUTCOME_COLUMNS})
    )
    await session.execute(
        statement,
        [
            {"b_id": row.id, **{f"b_{name}": getattr(row, name) for name in _OUTCOME_COLUMNS}}
            for row in rows
        ],
    )


def _parse(mail: InboundMail, now: datetime) -> ParsedMail | MailResult:
    mail.attempts += 1
    mail.processed_at = now
    try:
        parsed = parse_mail(mail.raw)
    except MailUnreadable as exc:
        return MailResult(Outcome.FAILED_PARSE, str(exc), status=MailStatus.FAILED)
    except Exception as exc:  # a parser bug must not stop the queue behind this mail
        log.exception("inbound mail %s could not be parsed", mail.id)
        reason = f"{type(exc).__name__}: {exc}"
        return MailResult(Outcome.FAILED_PARSE, reason, status=MailStatus.FAILED)
    mail.sender = parsed.from_address[:ADDRESS_MAX]
    mail.subject = parsed.subject[:SUBJECT_MAX]
    return parsed


async def process_mail(
    session: AsyncSession,
    *,
    mail: InboundMail,
    rules: MailRules,
    now: datetime,
    bypass_rate_limit: bool = False,
) -> None:
    """Decide and carry out what one stored mail means, under its own savepoint, and record
    the outcome on its row; a failure becomes the mail's outcome."""
    parsed = _parse(mail, now)
    if isinstance(parsed, MailResult):
        _record(mail, parsed)
        return
    try:
        async with session.begin_nested():
            result = await _decide(session, mail, parsed, rules, now, bypass_rate_limit, None)
    except OpsdeskError as exc:
        result = MailResult(Outcome.REFUSED, exc.message, status=MailStatus.FAILED)
    except Exception as exc:
        log.exception("inbound mail %s could not be processed", mail.id)
        result = MailResult(
            Outcome.FAILED, f"{type(exc).__name__}: {exc}", status=MailStatus.FAILED
        )
    _record(mail, result)


def _record(mail: InboundMail, result: MailResult) -> None:
    mail.status = str(result.status)
    mail.outcome = str(result.outcome)
    mail.reason = result.reason[:4000]
    if result.incident is not None:
        mail.incident_id = result.incident.id
        mail.incident_number = result.incident.number
    mail.related_number = result.related_number
    mail.conversation_id = result.conversation_id


async def _decide(
    session: AsyncSession,
    mail: InboundMail,
    parsed: ParsedMail,
    rules: MailRules,
    now: datetime,
    bypass_rate_limit: bool,
    batch: _Batch | None,
) -> MailResult:
    recent = None if batch is None else batch.recent[parsed.from_address]
    stopped = await screening.screen(
        session, mail, parsed, rules, now, bypass_rate_limit=bypass_rate_limit, recent=recent
    )
    if stopped is not None:
        return stopped
    if batch is not None and parsed.from_address in batch.users:
        user = batch.users[parsed.from_address]
    else:
        user = await matching.user_by_email(session, parsed.from_address)
    incident = await matching.thread_of(
        session, parsed, rules, None if batch is None else batch.threads
    )
    if incident is not None:
        result = await incident_mail.reply(session, mail, parsed, user, incident, rules, now)
    else:
        result = await incident_mail.new_incident(session, parsed, user, rules, now)
    if batch is not None and user is None and result.incident is not None:
        # The contact made for this sender's first mail serves the rest of the batch.
        batch.users.pop(parsed.from_address, None)
    return result


async def process_again(
    session: AsyncSession, *, caller: Caller, mail_id: int, rules: MailRules, now: datetime
) -> InboundMail:
    """An administrator's "process again" of a held or failed mail (the rate limit is lifted)."""
    auth_service.require_role(caller, Role.ADMIN)
    mail = await session.get(InboundMail, mail_id, with_for_update=True)
    if mail is None:
        raise NotFound(f"no inbound mail {mail_id}", field="mail_id")
    if mail.status not in (MailStatus.HELD, MailStatus.FAILED):
        raise Conflict(
            f"inbound mail {mail_id} is {mail.status}; only held or failed mail is processed again",
            field="status",
        )
    await process_mail(session, mail=mail, rules=rules, now=now, bypass_rate_limit=True)
    return mail
