"""Demo inbound mail: a report by email, its reply, an out-of-office and a bounce."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.clock import Clock
from opsdesk.core.settings import get_settings
from opsdesk.intake.email import queries as mail_queries
from opsdesk.intake.email import service as mail_service
from opsdesk.intake.email.outcomes import MailRules
from opsdesk.notify.mail import root_message_id


def _mail(sender: str, subject: str, body: str, message_id: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "helpdesk@example.com"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def _bounce(recipient: str, original_id: str, number: str) -> bytes:
    boundary = "demo-dsn-boundary"
    return (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: helpdesk@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <demo-dsn@mx.example.com>\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: mailbox unknown\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nX-Opsdesk-Incident: {number}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


async def load_demo_mail(*, session: AsyncSession, clock: Clock) -> None:
    """Mails through the real store-then-process path, so the inbound mail view has outcomes."""
    settings = get_settings()
    rules = MailRules.from_settings(settings)
    now = clock.now()

    async def receive(raw: bytes, ago: timedelta) -> str | None:
        date = format_datetime(now - ago)
        raw = raw.replace(b"\nMessage-ID:", f"\nDate: {date}\nMessage-ID:".encode(), 1)
        stored = await mail_service.store_mail(session, raw=raw, door="smtp", now=now - ago)
        await mail_service.process_pending(session, rules=rules, now=now - ago)
        mail = await mail_queries.get_stored(session, mail_id=stored.id)
        return mail.incident_number

    number = await receive(
        _mail(
            "Lena Fischer <lena.fischer@customer.example>",
            "VPN drops every ten minutes",
            "Hello,\n\nsince this morning my VPN connection drops every ten minutes and I "
            "have to sign in again. Colleagues in Hamburg see the same.\n\nLena",
            "<demo-vpn-1@customer.example>",
        ),
        timedelta(hours=3),
    )
    if number is None:
        return
    await receive(
        _mail(
            "Lena Fischer <lena.fischer@customer.example>",
            f"Re: [#{number}] VPN drops every ten minutes",
            "It also happens on the guest Wi-Fi.\n\nOn Monday, Helpdesk wrote:\n> Received.",
            "<demo-vpn-2@customer.example>",
            In_Reply_To=root_message_id(number, rules.our_domain),
        ),
        timedelta(hours=2),
    )
    await receive(
        _mail(
            "Uma User <user@example.com>",
            f"Automatic reply: [#{number}] VPN drops every ten minutes",
            "I am out of the office until Monday.",
            "<demo-ooo@example.com>",
            Auto_Submitted="auto-replied",
        ),
        timedelta(hours=1),
    )
    await receive(
        _bounce(
            "former.colleague@customer.example",
            f"<incident-{number}.assigned.demo@{rules.our_domain}>",
            number,
        ),
        timedelta(minutes=30),
    )
