"""Reading inbound mail: the operator view's list, one mail, the original bytes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller, Role
from opsdesk.core.errors import Forbidden, NotFound
from opsdesk.core.pagination import Page, PageRequest
from opsdesk.incidents.access import access_incident
from opsdesk.intake.email.models import InboundMail


async def get_stored(session: AsyncSession, *, mail_id: int) -> InboundMail:
    """A stored mail, unchecked (for the doors and the demo loader, which hold no caller)."""
    mail = await session.get(InboundMail, mail_id)
    if mail is None:
        raise NotFound(f"no inbound mail {mail_id}", field="mail_id")
    return mail


async def get_raw_mail(session: AsyncSession, *, caller: Caller, mail_id: int) -> bytes:
    """The mail as received, for staff: the full original of a reply whose quote was cut."""
    if not caller.is_staff:
        raise Forbidden("the original mails are for staff only")
    return (await get_stored(session, mail_id=mail_id)).raw


async def get_inbound_mail(session: AsyncSession, *, caller: Caller, mail_id: int) -> InboundMail:
    auth_service.require_role(caller, Role.ADMIN)
    mail = await session.get(InboundMail, mail_id)
    if mail is None:
        raise NotFound(f"no inbound mail {mail_id}", field="mail_id")
    return mail


async def list_inbound_mails(
    session: AsyncSession,
    *,
    caller: Caller,
    status: str | None = None,
    outcome: str | None = None,
    page: PageRequest = PageRequest(page=1, per_page=50),
) -> Page[InboundMail]:
    """The newest inbound mails first, with their outcome; administrators only."""
    auth_service.require_role(caller, Role.ADMIN)
    conditions = []
    if status:
        conditions.append(InboundMail.status == status)
    if outcome:
        conditions.append(InboundMail.outcome == outcome)
    total = await session.scalar(select(func.count()).select_from(InboundMail).where(*conditions))
    rows = await session.scalars(
        select(InboundMail)
        .where(*conditions)
        .order_by(InboundMail.id.desc())
        .limit(page.per_page)
        .offset(page.offset)
    )
    return Page(items=list(rows), total=int(total or 0), page=page.page, per_page=page.per_page)


async def mails_of_incident(
    session: AsyncSession, *, caller: Caller, number: str
) -> list[InboundMail]:
    """The mails that created or answered an incident, oldest first; for staff, who open
    each one's original (the full text of a reply whose quote was cut)."""
    if not caller.is_staff:
        raise Forbidden("the original mails are for staff only")
    incident = await access_incident(session=session, caller=caller, number=number)
    rows = await session.scalars(
        select(InboundMail).where(InboundMail.incident_id == incident.id).order_by(InboundMail.id)
    )
    return list(rows)
