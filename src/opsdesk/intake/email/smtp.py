"""The SMTP listener (``opsdesk mail serve``): an aiosmtpd server that stores before it says 250.

The reply to DATA is sent only after the raw mail is committed, so a 250 means the mail
survives a crash (kill -9 included); if the database cannot take it the answer is a 451
and the sending MTA tries again later. Processing runs beside the listener.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.intake.email.intake import Intake
from opsdesk.intake.email.outcomes import MailRules

log = logging.getLogger(__name__)

# RFC 5321 allows 1000 characters a line; real mailers send longer ones, so be lenient
# (the parser caps every header value) rather than refuse a customer's mail.
LINE_LENGTH_LIMIT = 64 * 1024


class StoringHandler:
    """aiosmtpd handler: accept any recipient, store the message, then answer."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            stored = await self.intake.store(
                raw,
                door="smtp",
                envelope_from=str(envelope.mail_from or ""),
                envelope_to=[str(r) for r in envelope.rcpt_tos],
            )
        except Exception:
            log.exception("could not store an inbound mail from %s", envelope.mail_from)
            return "451 4.3.0 The mail could not be stored; please try again later"
        if stored.duplicate:
            return f"250 2.0.0 OK: already have it (inbound mail {stored.id})"
        return f"250 2.0.0 OK: stored as inbound mail {stored.id}"


class LenientSMTP(SMTP):
    """aiosmtpd's server with a longer line limit (it sizes its reader when constructed)."""

    line_length_limit = LINE_LENGTH_LIMIT


def smtp_factory(intake: Intake, settings: Settings) -> Callable[[], SMTP]:
    handler = StoringHandler(intake)

    def make() -> SMTP:
        return LenientSMTP(
            handler,
            data_size_limit=settings.mail_max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="opsdesk",
            ident="opsdesk mail",
        )

    return make


async def serve_smtp(
    settings: Settings, *, host: str, port: int, on_ready: Callable[[], None] | None = None
) -> None:
    """Listen until SIGTERM/SIGINT; mail left pending by an earlier crash is processed first."""
    db = Database(settings.resolved_database_url())
    intake = Intake(db=db, clock=SystemClock(), rules=MailRules.from_settings(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(smtp_factory(intake, settings), host=host, port=port)
    processor = asyncio.create_task(intake.run_processor(stop), name="opsdesk-mail-processor")
    log.info("opsdesk mail listening on %s:%d", host, port)
    if on_ready is not None:
        on_ready()
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        await processor
        await db.dispose()
