"""Which incident an inbound mail belongs to, and who sent it: the subject tag, our own
Message-IDs, then the mails we received before (the pure rules are in ``threads``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.models import User
from opsdesk.core.errors import NotFound
from opsdesk.incidents.access import incident_by_number
from opsdesk.incidents.models import Incident
from opsdesk.intake.email import threads
from opsdesk.intake.email.models import InboundMail
from opsdesk.intake.email.outcomes import MailRules
from opsdesk.intake.email.parser import ParsedMail


async def user_by_email(session: AsyncSession, address: str) -> User | None:
    try:
        return await auth_service.get_user_by_email(session=session, email=address)
    except NotFound:
        return None


async def thread_of(
    session: AsyncSession,
    parsed: ParsedMail,
    rules: MailRules,
    known_threads: dict[str, str] | None = None,
) -> Incident | None:
    """The incident a mail answers: subject tag, then our Message-IDs, then ones we received.

    ``known_threads`` (Message-ID → incident number) holds the mails of the batch being
    processed, whose outcomes are not written yet."""
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
    if known_threads is not None:
        for message_id in reversed(referenced):
            if message_id in known_threads:
                return await incident_by_number(
                    session=session, number=known_threads[message_id], for_update=True
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
