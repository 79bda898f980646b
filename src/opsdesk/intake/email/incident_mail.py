"""What an inbound mail does to incidents: a new incident (a contact made for an unknown
sender, or a polite refusal), a public reply, a reopen, a follow-up of a closed incident;
attachments checked by the incident attachment rules."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.models import User
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration.schemas import CONVERSATION_BODY_MAX, ConversationCreate
from opsdesk.core import jobs
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.incidents import actions
from opsdesk.incidents.attachments import store_attachment
from opsdesk.incidents.creation import create_incident
from opsdesk.incidents.fields import DESCRIPTION_MAX, TITLE_MAX, Channel, Status
from opsdesk.incidents.filetypes import FileRefused, check_file
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import ConfirmParams, IncidentCreate
from opsdesk.intake.email import threads
from opsdesk.intake.email.models import InboundMail
from opsdesk.intake.email.outcomes import MailResult, MailRules, Outcome
from opsdesk.intake.email.parser import ParsedAttachment, ParsedMail
from opsdesk.notify import bounces
from opsdesk.notify.mail import MAIL_JOB, OutgoingMail


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


async def new_incident(
    session: AsyncSession,
    parsed: ParsedMail,
    user: User | None,
    rules: MailRules,
    now: datetime,
    *,
    follow_up_of: str | None = None,
) -> MailResult:
    if user is None:
        if rules.unknown_senders == "refuse":
            await _polite_refusal(session, parsed, rules, now)
            return MailResult(
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
        return MailResult(Outcome.REFUSED, f"{user.email} is a deactivated user")
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
        return MailResult(Outcome.LINKED, reason, incident=incident, related_number=follow_up_of)
    return MailResult(Outcome.CREATED, reason, incident=incident)


async def reply(
    session: AsyncSession,
    mail: InboundMail,
    parsed: ParsedMail,
    user: User | None,
    incident: Incident,
    rules: MailRules,
    now: datetime,
) -> MailResult:
    if incident.status == Status.COMPLETED:
        return await new_incident(session, parsed, user, rules, now, follow_up_of=incident.number)
    if user is None or not user.active:
        return MailResult(
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
        return MailResult(
            Outcome.REFUSED,
            f"{parsed.from_address} may not see incident {incident.number} "
            "(neither its reporter nor staff)",
            incident=incident,
        )
    await _attach(session, caller, incident, accepted, rules, now, "conversation")
    result = MailResult(
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
    # A sender whose address bounces is not answered: the refusal is recorded as skipped.
    for kept in await bounces.without_bouncing(session, [mail], now=now):
        await jobs.enqueue(
            session, kind=MAIL_JOB, payload=kept.to_payload(), now=now, max_attempts=8
        )
