"""Inbound mail use cases: store the raw mail, then turn it into the one service call it means.

Storing and processing are two steps in two transactions. ``store_mail`` keeps the bytes
(deduplicated by Message-ID) and is all a door waits for before it says "OK" to the sender;
``process_pending`` then parses each stored mail and creates an incident, posts a public
reply, reopens, opens a linked follow-up, records a bounce, ignores an auto-reply, holds a
runaway sender or refuses with a reason. A mail whose processing fails is marked ``failed``
with the reason and kept for an administrator: nothing received is ever dropped.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration.schemas import CONVERSATION_BODY_MAX, ConversationCreate
from opsdesk.core import jobs
from opsdesk.core.errors import Conflict, NotFound, OpsdeskError, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents import actions
from opsdesk.incidents.attachments import attachments_dir, store_attachment
from opsdesk.incidents.fields import DESCRIPTION_MAX, TITLE_MAX, Channel, Status
from opsdesk.incidents.filetypes import FileRefused, check_file
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import ConfirmParams, IncidentCreate
from opsdesk.incidents.service import IncidentRules, create_incident, incident_by_number
from opsdesk.incidents.sweeper import incident_rules_from
from opsdesk.intake.email import threads
from opsdesk.intake.email.loops import Kind, classify
from opsdesk.intake.email.models import (
    ADDRESS_MAX,
    MESSAGE_ID_MAX,
    SUBJECT_MAX,
    InboundMail,
)
from opsdesk.intake.email.parser import (
    MailUnreadable,
    ParsedAttachment,
    ParsedMail,
    parse_mail,
    peek_message_id,
)
from opsdesk.notify.mail import MAIL_JOB, OutgoingMail, address_of, mail_domain
from opsdesk.notify.models import BouncingAddress

log = logging.getLogger(__name__)

DOORS = frozenset({"smtp", "imap", "pipe"})


class MailStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    HELD = "held"
    FAILED = "failed"


class Outcome(StrEnum):
    CREATED = "created"
    THREADED = "threaded"
    REOPENED = "reopened"
    LINKED = "linked"  # a reply to a completed incident opened a new one, linked
    IGNORED_AUTO_REPLY = "ignored_auto_reply"
    IGNORED_OWN = "ignored_own"
    BOUNCE = "bounce"
    HELD_RATE_LIMIT = "held_rate_limit"
    REFUSED = "refused"
    FAILED_PARSE = "failed_parse"
    FAILED = "failed"


OUTCOME_LABELS = {
    Outcome.CREATED: "Created an incident",
    Outcome.THREADED: "Added to an incident",
    Outcome.REOPENED: "Reopened an incident",
    Outcome.LINKED: "New incident linked to a closed one",
    Outcome.IGNORED_AUTO_REPLY: "Ignored: automatic reply",
    Outcome.IGNORED_OWN: "Ignored: our own mail came back",
    Outcome.BOUNCE: "Bounce",
    Outcome.HELD_RATE_LIMIT: "Held: sender rate limit",
    Outcome.REFUSED: "Refused",
    Outcome.FAILED_PARSE: "Failed to parse",
    Outcome.FAILED: "Failed",
}


@dataclass(frozen=True)
class MailRules:
    """What decides an inbound mail's fate, from the deployment settings."""

    our_address: str
    our_domain: str
    unknown_senders: str = "create"
    reopen_on_reply: bool = True
    rate_limit: int = 20
    rate_window: timedelta = timedelta(minutes=10)
    incident_rules: IncidentRules = field(default_factory=IncidentRules)
    storage_dir: Path = Path("var/attachments")

    @classmethod
    def from_settings(cls, settings: Settings) -> MailRules:
        return cls(
            our_address=address_of(settings.mail_from).lower(),
            our_domain=mail_domain(settings.mail_from).lower(),
            unknown_senders=settings.mail_unknown_senders,
            reopen_on_reply=settings.mail_reopen_on_reply,
            rate_limit=settings.mail_rate_limit,
            rate_window=timedelta(minutes=settings.mail_rate_window_minutes),
            incident_rules=incident_rules_from(settings),
            storage_dir=attachments_dir(settings),
        )


@dataclass(frozen=True)
class StoredMail:
    id: int
    duplicate: bool


@dataclass
class _Result:
    outcome: Outcome
    reason: str = ""
    incident: Incident | None = None
    related_number: str | None = None
    conversation_id: int | None = None
    status: MailStatus = MailStatus.DONE


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
                result = mail if isinstance(mail, _Result) else None
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


def _parse(mail: InboundMail, now: datetime) -> ParsedMail | _Result:
    mail.attempts += 1
    mail.processed_at = now
    try:
        parsed = parse_mail(mail.raw)
    except MailUnreadable as exc:
        return _Result(Outcome.FAILED_PARSE, str(exc), status=MailStatus.FAILED)
    except Exception as exc:  # a parser bug must not stop the queue behind this mail
        log.exception("inbound mail %s could not be parsed", mail.id)
        reason = f"{type(exc).__name__}: {exc}"
        return _Result(Outcome.FAILED_PARSE, reason, status=MailStatus.FAILED)
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
    if isinstance(parsed, _Result):
        _record(mail, parsed)
        return
    try:
        async with session.begin_nested():
            result = await _decide(session, mail, parsed, rules, now, bypass_rate_limit, None)
    except OpsdeskError as exc:
        result = _Result(Outcome.REFUSED, exc.message, status=MailStatus.FAILED)
    except Exception as exc:
        log.exception("inbound mail %s could not be processed", mail.id)
        result = _Result(Outcome.FAILED, f"{type(exc).__name__}: {exc}", status=MailStatus.FAILED)
    _record(mail, result)


def _record(mail: InboundMail, result: _Result) -> None:
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
) -> _Result:
    verdict = classify(parsed, our_address=rules.our_address, our_domain=rules.our_domain)
    if verdict.kind is Kind.OWN:
        return _Result(Outcome.IGNORED_OWN, verdict.reason)
    if verdict.kind is Kind.BOUNCE:
        return await _bounce(session, parsed, verdict.reason, rules, now)
    if verdict.kind is Kind.AUTOMATIC:
        return _Result(Outcome.IGNORED_AUTO_REPLY, verdict.reason)
    if not parsed.from_address or "@" not in parsed.from_address:
        return _Result(Outcome.REFUSED, "the mail has no sender address", status=MailStatus.FAILED)
    if not bypass_rate_limit and rules.rate_limit > 0:
        if batch is not None:
            recent: int | None = batch.recent[parsed.from_address]
        else:
            recent = await session.scalar(
                select(func.count())
                .select_from(InboundMail)
                .where(
                    InboundMail.sender == parsed.from_address,
                    InboundMail.received_at > now - rules.rate_window,
                    InboundMail.id < mail.id,
                )
            )
        if (recent or 0) >= rules.rate_limit:
            minutes = rules.rate_window.total_seconds() / 60
            return _Result(
                Outcome.HELD_RATE_LIMIT,
                f"{parsed.from_address} sent {recent} mails in the last {minutes:g} minutes "
                f"(limit {rules.rate_limit}); held for an administrator",
                status=MailStatus.HELD,
            )
    if batch is not None and parsed.from_address in batch.users:
        user = batch.users[parsed.from_address]
    else:
        user = await _user_by_email(session, parsed.from_address)
    incident = await _thread_of(session, parsed, rules, batch)
    if incident is not None:
        result = await _reply(session, mail, parsed, user, incident, rules, now)
    else:
        result = await _new_incident(session, parsed, user, rules, now)
    if batch is not None and user is None and result.incident is not None:
        # The contact made for this sender's first mail serves the rest of the batch.
        batch.users.pop(parsed.from_address, None)
    return result


async def _user_by_email(session: AsyncSession, address: str) -> User | None:
    try:
        return await auth_service.get_user_by_email(session=session, email=address)
    except NotFound:
        return None


async def _thread_of(
    session: AsyncSession, parsed: ParsedMail, rules: MailRules, batch: _Batch | None = None
) -> Incident | None:
    """The incident a mail answers: subject tag, then our Message-IDs, then ones we received."""
    candidates: list[str] = []
    tagged = threads.number_in_subject(parsed.subject)
    if tagged:
        candidates.append(tagged)
    referenced = [*parsed.references, *parsed.in_reply_to]
    candidates += threads.numbers_in_our_ids(referenced, rules.our_domain)
    # A write for a merged incident lands on its primary (``for_update`` follows the merge):
    # a reply to a secondary continues on the incident it was merged into.
    for number in candidates:
        incident = await incident_by_number(session=session, number=number, for_update=True)
        if incident is not None:
            return incident
    if batch is not None:
        for message_id in reversed(referenced):
            if message_id in batch.threads:
                return await incident_by_number(
                    session=session, number=batch.threads[message_id], for_update=True
                )
    if referenced:
        number = await session.scalar(
            select(InboundMail.incident_number)
            .where(
                InboundMail.message_id.in_(referenced[-50:]),
                InboundMail.incident_number.is_not(None),
            )
            .order_by(InboundMail.id.desc())
            .limit(1)
        )
        if number:
            return await incident_by_number(session=session, number=number, for_update=True)
    return None


def _check_attachments(
    files: list[ParsedAttachment], rules: IncidentRules, already: int = 0
) -> tuple[list[ParsedAttachment], list[str]]:
    """The files the attachment rules accept, and a line for each refused one."""
    accepted: list[ParsedAttachment] = []
    refused: list[str] = []
    for file in files:
        if len(file.data) > rules.attachment_max_bytes:
            megabytes = rules.attachment_max_bytes / (1024 * 1024)
            refused.append(f"{file.name}: larger than {megabytes:g} MB")
            continue
        if already + len(accepted) >= rules.attachment_max_count:
            refused.append(f"{file.name}: more than {rules.attachment_max_count} attachments")
            continue
        try:
            check_file(file.name, file.data)
        except FileRefused as exc:
            refused.append(str(exc))
            continue
        accepted.append(file)
    return accepted, refused


def _with_refusals(text: str, refused: list[str], limit: int) -> str:
    note = "\n\n[Attachments not accepted: " + "; ".join(refused) + "]" if refused else ""
    room = limit - len(note)
    if len(text) > room:
        cut = "\n[… the rest is in the original mail, kept for staff]"
        text = text[: max(0, room - len(cut))] + cut
    return text + note


async def _attach(
    session: AsyncSession,
    caller: Caller,
    incident: Incident,
    files: list[ParsedAttachment],
    rules: MailRules,
    now: datetime,
    context: str,
) -> None:
    for file in files:
        await store_attachment(
            session=session,
            caller=caller,
            number=incident.number,
            file_name=file.name,
            data=file.data,
            internal=False,
            now=now,
            rules=rules.incident_rules,
            storage_dir=rules.storage_dir,
            context=context,
        )


async def _new_incident(
    session: AsyncSession,
    parsed: ParsedMail,
    user: User | None,
    rules: MailRules,
    now: datetime,
    *,
    follow_up_of: str | None = None,
) -> _Result:
    if user is None:
        if rules.unknown_senders == "refuse":
            await _polite_refusal(session, parsed, rules, now)
            return _Result(
                Outcome.REFUSED,
                f"{parsed.from_address} is not a known user and unknown senders are refused "
                "(OPSDESK_MAIL_UNKNOWN_SENDERS=refuse); a polite reply was sent",
            )
        try:
            contact = UserCreate(
                email=parsed.from_address,
                name=(parsed.from_name.strip() or None) and parsed.from_name.strip()[:200],
                role=Role.END_USER,
            )
        except ValidationError:
            raise ValidationFailed(
                f"from: no contact can be made for {parsed.from_address!r} "
                "(an address needs a domain with a dot)",
                field="from",
            ) from None
        user = await auth_service.create_user(session=session, data=contact, now=now)
    if not user.active:
        return _Result(Outcome.REFUSED, f"{user.email} is a deactivated user")
    caller = auth_service.caller_of(user)
    accepted, refused = _check_attachments(parsed.attachments, rules.incident_rules)
    title = threads.clean_subject(parsed.subject)[:TITLE_MAX].strip() or "(no subject)"
    text = parsed.text.strip() or "(the mail had no text)"
    if follow_up_of:
        text = f"Follow-up of incident {follow_up_of}, which was closed:\n\n{text}"
    incident = await create_incident(
        session=session,
        caller=caller,
        data=IncidentCreate(
            title=title, description=_with_refusals(text, refused, DESCRIPTION_MAX)
        ),
        now=now,
        rules=rules.incident_rules,
        default_channel=Channel.EMAIL,
    )
    await _attach(session, caller, incident, accepted, rules, now, "incident")
    reason = "; ".join(refused)
    if follow_up_of:
        return _Result(Outcome.LINKED, reason, incident=incident, related_number=follow_up_of)
    return _Result(Outcome.CREATED, reason, incident=incident)


async def _reply(
    session: AsyncSession,
    mail: InboundMail,
    parsed: ParsedMail,
    user: User | None,
    incident: Incident,
    rules: MailRules,
    now: datetime,
) -> _Result:
    if incident.status == Status.COMPLETED:
        return await _new_incident(session, parsed, user, rules, now, follow_up_of=incident.number)
    if user is None or not user.active:
        return _Result(
            Outcome.REFUSED,
            f"{parsed.from_address} replied to {incident.number} but is not a known user",
            incident=incident,
        )
    caller = auth_service.caller_of(user)
    body = threads.strip_quoted(parsed.text) or "(the reply had no text)"
    accepted, refused = _check_attachments(parsed.attachments, rules.incident_rules)
    try:
        entry = await collaboration.add_conversation(
            session=session,
            caller=caller,
            number=incident.number,
            data=ConversationCreate(body=_with_refusals(body, refused, CONVERSATION_BODY_MAX)),
            now=now,
        )
    except NotFound:
        return _Result(
            Outcome.REFUSED,
            f"{parsed.from_address} may not see incident {incident.number} "
            "(neither its reporter nor staff)",
            incident=incident,
        )
    await _attach(session, caller, incident, accepted, rules, now, "conversation")
    result = _Result(
        Outcome.THREADED, "; ".join(refused), incident=incident, conversation_id=entry.id
    )
    reopen = (
        incident.status == Status.RESOLVED
        and rules.reopen_on_reply
        and not caller.is_staff
        and caller.user_id in (incident.reporter_id, incident.creator_id)
    )
    if reopen:
        await actions.take_action(
            session=session,
            caller=caller,
            number=incident.number,
            action=Action.CONFIRM,
            params=ConfirmParams(
                accepted=False, comment="Not fixed: the reporter replied by email"
            ),
            now=now,
            rules=rules.incident_rules,
        )
        result.outcome = Outcome.REOPENED
    return result


async def _bounce(
    session: AsyncSession, parsed: ParsedMail, reason: str, rules: MailRules, now: datetime
) -> _Result:
    """Log a bounce of one of our notifications on its incident; mark the address bouncing."""
    report = parsed.report
    if report is None:
        return _Result(Outcome.BOUNCE, reason + "; not a delivery report we can read")
    ids = [report.original_message_id] if report.original_message_id else []
    numbers = threads.numbers_in_our_ids(ids, rules.our_domain)
    named = report.original_headers.get("x-opsdesk-incident", "").strip()
    if named and named not in numbers:
        numbers.append(named)
    incident = None
    for number in numbers:
        incident = await incident_by_number(session=session, number=number)
        if incident is not None:
            break
    status = " ".join(p for p in (report.action, report.status, report.diagnostic) if p)
    for address in report.recipients:
        await _mark_bouncing(session, address.lower(), status, incident, now)
    summary = f"Mail to {', '.join(report.recipients) or 'a recipient'} bounced" + (
        f": {status}" if status else ""
    )
    if incident is not None:
        await collaboration.add_system_note(
            session=session, incident=incident, body=summary, now=now
        )
    return _Result(Outcome.BOUNCE, summary, incident=incident)


async def _mark_bouncing(
    session: AsyncSession, address: str, status: str, incident: Incident | None, now: datetime
) -> None:
    row = await session.get(BouncingAddress, address[:ADDRESS_MAX], with_for_update=True)
    if row is None:
        row = BouncingAddress(address=address[:ADDRESS_MAX], bounces=0, first_at=now)
        session.add(row)
    row.bounces += 1
    row.last_at = now
    row.last_status = status[:200]
    row.last_incident_id = None if incident is None else incident.id


async def _polite_refusal(
    session: AsyncSession, parsed: ParsedMail, rules: MailRules, now: datetime
) -> None:
    subject = threads.clean_subject(parsed.subject) or "your mail"
    text = (
        f'Hello,\n\nthank you for your mail "{subject}". This service desk only accepts '
        f"reports from registered users, and {parsed.from_address} is not one. Please ask "
        "your administrator for an account, or report the problem through your usual "
        "contact.\n\nThis is an automatic reply."
    )
    mail = OutgoingMail(
        message_id=f"<refusal.{uuid.uuid4().hex}@{rules.our_domain}>",
        sender=rules.our_address,
        to=parsed.from_address,
        to_name=parsed.from_name,
        subject=f"Re: {subject}"[:300],
        text=text,
        html="<p>" + text.replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>",
        date=now.isoformat(),
        in_reply_to=parsed.message_id,
        references=[parsed.message_id] if parsed.message_id else [],
    )
    await jobs.enqueue(session, kind=MAIL_JOB, payload=mail.to_payload(), now=now, max_attempts=8)


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
