"""Outgoing mail: the message a queued mail job becomes, its headers, and pooled SMTP sending.

Everything that identifies a message (Message-ID, Date, subject, both bodies) is fixed when
the job is queued, so a mail delivered twice after a crash is the same message twice and
the receiving side can drop the copy by its Message-ID.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, Protocol

import aiosmtplib

from opsdesk.core.database import Database
from opsdesk.core.job_claims import KnownOutage, Skipped
from opsdesk.core.settings import Settings

log = logging.getLogger(__name__)

MAIL_JOB = "mail.deliver"
# The start-up probe must not hold anything up for long.
PROBE_TIMEOUT_S = 5.0

# On every mail we send: RFC 3834 and Exchange's markers keep auto-responders quiet, and
# X-Loop lets our own inbound side (and others) recognise mail that came from us.
AUTOMATIC_HEADERS = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
    "Precedence": "bulk",
}


def address_of(mail_from: str) -> str:
    """The bare address of ``Name <addr>`` or ``addr``."""
    return parseaddr(mail_from)[1] or mail_from.strip()


def mail_domain(mail_from: str) -> str:
    """The domain our Message-IDs end in: the From address's, else ``localhost``."""
    _local, at, domain = address_of(mail_from).rpartition("@")
    return domain if at and domain else "localhost"


def root_message_id(number: str, domain: str) -> str:
    """The thread root of an incident: the created mail's Message-ID, referenced by all."""
    return f"<incident-{number}@{domain}>"


def new_message_id(number: str, event: str, domain: str) -> str:
    return f"<incident-{number}.{event}.{uuid.uuid4().hex}@{domain}>"


def tag_subject(subject: str, number: str) -> str:
    """The subject with the ``[#NUMBER]`` tag that inbound mail is matched by."""
    tag = f"[#{number}]"
    return subject if tag in subject else f"{tag} {subject}"


@dataclass(frozen=True)
class OutgoingMail:
    """A fully rendered mail as stored in a ``mail.deliver`` job's payload."""

    message_id: str
    sender: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    date: str
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    incident: str = ""
    event: str = ""

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OutgoingMail:
        known = {name: payload[name] for name in cls.__dataclass_fields__ if name in payload}
        return cls(**known)


def _header(value: str) -> str:
    """A header value on one line; non-ASCII text as an RFC 2047 encoded word."""
    value = " ".join(value.split())
    return value if value.isascii() else Header(value, "utf-8").encode()


def _address(name: str, address: str) -> str:
    return formataddr((" ".join(name.split()), address)) if name else address


def _part(content_type: str, body: str) -> bytes:
    encoded = binascii.b2a_qp(body.encode(), istext=True).replace(b"\r\n", b"\n")
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + encoded.replace(b"\n", b"\r\n")


def message_bytes(mail: OutgoingMail) -> bytes:
    """The message as sent: multipart/alternative, the text part first, HTML second.

    Written out directly rather than through ``email.message.EmailMessage``, which costs
    about ten times as much per message and would cap the outbox below its target. The
    boundary derives from the Message-ID, so a copy sent again is byte-identical.
    """
    for name in ("sender", "to", "message_id", "in_reply_to", "references"):
        if any(char in str(getattr(mail, name)) for char in "\r\n"):
            raise ValueError(f"{name}: a line break in a header value")
    sender_name, sender_address = parseaddr(mail.sender)
    boundary = "=_opsdesk_" + hashlib.sha256(mail.message_id.encode()).hexdigest()[:32]
    headers = [
        ("From", _address(sender_name, sender_address or mail.sender)),
        ("To", _address(mail.to_name, mail.to)),
        ("Subject", _header(mail.subject)),
        ("Date", format_datetime(datetime.fromisoformat(mail.date))),
        ("Message-ID", mail.message_id),
    ]
    if mail.in_reply_to:
        headers.append(("In-Reply-To", mail.in_reply_to))
    if mail.references:
        headers.append(("References", " ".join(mail.references)))
    headers += list(AUTOMATIC_HEADERS.items())
    headers.append(("X-Loop", address_of(mail.sender)))
    if mail.incident:
        headers.append(("X-Opsdesk-Incident", _header(mail.incident)))
    if mail.event:
        headers.append(("X-Opsdesk-Event", _header(mail.event)))
    headers += [
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode()
    delimiter = f"\r\n--{boundary}\r\n".encode()
    return b"".join(
        (
            head,
            b"\r\n",
            delimiter.lstrip(b"\r\n"),
            _part("text/plain", mail.text),
            delimiter,
            _part("text/html", mail.html),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


# Failures after which the connection is gone; a pooled connection that fails this way may
# simply have been closed by the server while idle, so one fresh connection is tried.
_CONNECTION_LOST = (aiosmtplib.SMTPServerDisconnected, ConnectionError, asyncio.IncompleteReadError)


class MailSender:
    """Sends messages over a few long-lived SMTP connections instead of one per mail."""

    def __init__(self, settings: Settings, *, connections: int | None = None) -> None:
        self.settings = settings
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections or settings.smtp_connections)
        # Why mail cannot be delivered now, said once; None while it can (or is untried).
        self.outage: str | None = None

    @property
    def server(self) -> str:
        return f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}"

    async def probe(self) -> None:
        """Connect once (briefly) so that a missing SMTP server is reported at start-up."""
        try:
            client = await self._connect(timeout=min(self.settings.smtp_timeout_s, PROBE_TIMEOUT_S))
        except (OSError, aiosmtplib.SMTPException) as exc:
            self.mark_down(exc)
            return
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()

    def mark_down(self, exc: BaseException) -> None:
        """Say once that mail is not deliverable, and where the mails wait meanwhile."""
        if self.outage is not None:
            return
        self.outage = f"{self.server} {_unreachable(exc)}"
        log.warning(
            "mail is not deliverable: %s; mails wait in the jobs table (admin: /admin/jobs) "
            "and are retried",
            self.outage,
        )

    def mark_up(self) -> None:
        if self.outage is not None:
            self.outage = None
            log.info("mail delivery works again (%s)", self.server)

    async def _connect(self, timeout: float | None = None) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_user or None,
            password=s.smtp_password.get_secret_value() or None,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
            timeout=timeout or s.smtp_timeout_s,
        )
        await client.connect()
        return client

    async def send(self, message: bytes, *, sender: str, recipient: str) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            reused = client is not None
            while True:
                if client is None:
                    client = await self._connect()
                try:
                    await client.sendmail(sender, [recipient], message)
                except _CONNECTION_LOST:
                    client.close()
                    client = None
                    if not reused:
                        raise
                    reused = False
                    continue
                except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
                    # The server answered (e.g. 550 for the recipient) and aiosmtplib reset
                    # the envelope: the connection is still good for the next mail.
                    if client.is_connected:
                        self._idle.append(client)
                    raise
                except BaseException:
                    client.close()
                    raise
                self._idle.append(client)
                return

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


class MailJobContext(Protocol):
    """What the mail handler needs of the worker's job context."""

    @property
    def db(self) -> Database: ...


MailHandler = Callable[[dict[str, Any], MailJobContext], Awaitable[None]]
# Why a mail must not be sent now (its address bounces by now), or None to send it.
SkipCheck = Callable[[Database, str], Awaitable[str | None]]


def make_mail_handler(
    settings: Settings, sender: MailSender | None = None, *, skip_check: SkipCheck | None = None
) -> MailHandler:
    """The worker's ``mail.deliver`` handler: one send, no database transaction.

    ``skip_check`` runs right before sending (one read): a mail queued before its address
    started bouncing, e.g. a retry, is then not sent but finished as skipped with the reason.
    """
    pool = sender or MailSender(settings)

    async def deliver_mail(payload: dict[str, Any], ctx: MailJobContext) -> None:
        mail = OutgoingMail.from_payload(payload)
        if skip_check is not None:
            reason = await skip_check(ctx.db, mail.to)
            if reason is not None:
                raise Skipped(reason)
        try:
            await pool.send(message_bytes(mail), sender=address_of(mail.sender), recipient=mail.to)
        except OSError as exc:  # the server is unreachable (aiosmtplib's errors are OSErrors)
            pool.mark_down(exc)
            raise KnownOutage(f"{pool.server} {_unreachable(exc)}") from exc
        pool.mark_up()
        log.info("mail %s (%s) sent to %s", mail.message_id, mail.event, mail.to)

    return deliver_mail


def _unreachable(exc: BaseException) -> str:
    """Why a server could not be reached, in words: refused, silent, or the error itself."""
    causes = [exc, exc.__cause__, exc.__context__]
    text = str(exc).lower()
    # aiosmtplib wraps the refusal in its own SMTPConnectError ("Connect call failed").
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "connect call failed" in text:
        return "refused the connection"
    if any(isinstance(c, TimeoutError) for c in causes):
        return "did not answer in time"
    return f"could not be reached ({type(exc).__name__}: {exc})"
