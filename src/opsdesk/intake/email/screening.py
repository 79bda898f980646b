"""Mail that must not reach an incident: our own mail come back, automatic replies,
bounces (logged on the incident they name; a permanent failure marks the address bouncing
through ``notify.bounces``), mail without a sender, and runaway senders held by the rate
limit. The pure rules are in ``loops``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.collaboration import service as collaboration
from opsdesk.incidents.access import incident_by_number
from opsdesk.intake.email import threads
from opsdesk.intake.email.loops import Kind, classify, permanent_failure
from opsdesk.intake.email.models import InboundMail
from opsdesk.intake.email.outcomes import MailResult, MailRules, MailStatus, Outcome
from opsdesk.intake.email.parser import ParsedMail
from opsdesk.notify import bounces
from opsdesk.notify.models import BOUNCING_ADDRESS_MAX


async def screen(
    session: AsyncSession,
    mail: InboundMail,
    parsed: ParsedMail,
    rules: MailRules,
    now: datetime,
    *,
    bypass_rate_limit: bool,
    recent: int | None,
) -> MailResult | None:
    """The outcome of a mail stopped here, or None for a mail that goes on to an incident.

    ``recent`` is the sender's count of mails in the rate-limit window when a batch counted
    it already; None counts it here."""
    verdict = classify(parsed, our_address=rules.our_address, our_domain=rules.our_domain)
    if verdict.kind is Kind.OWN:
        return MailResult(Outcome.IGNORED_OWN, verdict.reason)
    if verdict.kind is Kind.BOUNCE:
        return await record_bounce(session, parsed, verdict.reason, rules, now)
    if verdict.kind is Kind.AUTOMATIC:
        return MailResult(Outcome.IGNORED_AUTO_REPLY, verdict.reason)
    if not parsed.from_address or "@" not in parsed.from_address:
        return MailResult(
            Outcome.REFUSED, "the mail has no sender address", status=MailStatus.FAILED
        )
    if not bypass_rate_limit and rules.rate_limit > 0:
        if recent is None:
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
            return MailResult(
                Outcome.HELD_RATE_LIMIT,
                f"{parsed.from_address} sent {recent} mails in the last {minutes:g} minutes "
                f"(limit {rules.rate_limit}); held for an administrator",
                status=MailStatus.HELD,
            )
    return None


async def record_bounce(
    session: AsyncSession, parsed: ParsedMail, reason: str, rules: MailRules, now: datetime
) -> MailResult:
    """Log a delivery report of one of our mails on its incident; each recipient whose own
    status is a permanent failure is marked bouncing, a delayed one is not (the server is
    still trying)."""
    report = parsed.report
    if report is None:
        return MailResult(Outcome.BOUNCE, reason + "; not a delivery report we can read")
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
    # Each recipient of a report has its own outcome: only those that failed for good are
    # marked, a delayed one beside them is still mailed.
    parts: list[str] = []
    for entry in report.statuses:
        detail = " ".join(p for p in (entry.action, entry.status, entry.diagnostic) if p)
        address = entry.address.strip()
        permanent = permanent_failure(entry)
        if permanent and address and len(address) <= BOUNCING_ADDRESS_MAX:
            await bounces.record_bounce(
                session,
                address=address,
                detail=detail,
                now=now,
                incident_id=None if incident is None else incident.id,
            )
        what = "bounced" if permanent else "not delivered yet (the address is still mailed)"
        parts.append(f"Mail to {address} {what}" + (f": {detail}" if detail else ""))
    if not parts:  # a report naming no recipient: nothing to mark, only to log
        detail = " ".join(p for p in (report.action, report.status, report.diagnostic) if p)
        what = "bounced" if permanent_failure(report) else "not delivered yet"
        parts.append(f"Mail to a recipient {what}" + (f": {detail}" if detail else ""))
    summary = "; ".join(parts)
    if incident is not None:
        await collaboration.add_system_note(
            session=session, incident=incident, body=summary, now=now
        )
    return MailResult(Outcome.BOUNCE, summary, incident=incident)
