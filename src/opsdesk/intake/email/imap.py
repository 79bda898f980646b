"""The IMAP poller: fetch unseen mail, store each, and only then mark it seen (or move it).

A mail is flagged or moved only after its raw bytes are committed, so a crash between
fetching and committing leaves it unseen on the server for the next poll; a crash after
the commit but before the flag fetches it again, and the Message-ID deduplication makes
that second copy a no-op. The IMAP client is blocking (imaplib under imap-tools), so the
session runs in a thread and hands each mail to the event loop to store.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Coroutine
from typing import Any

from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted

from opsdesk.core.settings import Settings

log = logging.getLogger(__name__)

POLL_JOB = "mail.imap_poll"
FETCH_LIMIT = 200

Store = Callable[[bytes], Coroutine[Any, Any, object]]


def _connect(settings: Settings) -> BaseMailBox:
    host, port = settings.imap_host, settings.imap_port
    if settings.imap_tls == "tls":
        return MailBox(host, port, ssl_context=ssl.create_default_context())
    if settings.imap_tls == "starttls":
        return MailBoxStartTls(host, port, ssl_context=ssl.create_default_context())
    return MailBoxUnencrypted(host, port)


def _raw_of(fetched: list[object]) -> bytes | None:
    for item in fetched:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _poll_blocking(
    settings: Settings, store: Callable[[bytes], None], limit: int
) -> tuple[int, int]:
    """One IMAP session: returns (mails stored, mails left for the next poll)."""
    done = 0
    with _connect(settings).login(
        settings.imap_user,
        settings.imap_password.get_secret_value(),
        initial_folder=settings.imap_folder,
    ) as box:
        uids = box.uids(AND(seen=False))
        for uid in uids[:limit]:
            status, fetched = box.client.uid("fetch", uid, "(BODY.PEEK[])")
            raw = _raw_of(list(fetched)) if status == "OK" else None
            if raw is None:
                log.warning("IMAP: could not fetch message uid %s; left for the next poll", uid)
                continue
            store(raw)  # committed when this returns; a failure raises and flags nothing
            if settings.imap_done_folder:
                box.move(uid, settings.imap_done_folder)
            else:
                box.flag(uid, "\\Seen", True)
            done += 1
        return done, max(0, len(uids) - limit)


async def poll_once(settings: Settings, store: Store, *, limit: int = FETCH_LIMIT) -> int:
    """Fetch, store and flag the unseen mail of the configured folder; returns how many."""
    if not settings.imap_host:
        raise ValueError("imap_host: set OPSDESK_IMAP_HOST to poll a mailbox")
    loop = asyncio.get_running_loop()

    def store_from_thread(raw: bytes) -> None:
        asyncio.run_coroutine_threadsafe(store(raw), loop).result()

    done, _left = await asyncio.to_thread(_poll_blocking, settings, store_from_thread, limit)
    return done
