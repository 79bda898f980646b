"""The IMAP poller against a real Dovecot: mail is flagged only after it is committed."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_tools import AND, MailBoxUnencrypted

from opsdesk.core.settings import Settings
from opsdesk.intake.email.imap import poll_once
from tests import mail_samples as samples
from tests.e2e.dovecot import DOVECOT, ImapServer, dovecot
from tests.e2e.mail_server import MailDesk

pytestmark = pytest.mark.e2e


@pytest.fixture
def imap() -> Iterator[ImapServer]:
    if not DOVECOT.exists():
        message = f"{DOVECOT} not found: apt-get install dovecot-imapd to run the IMAP tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Not under pytest's tmp_path: its parents are private to us, and Dovecot's own users
    # (dovecot, dovenull, the mail user) must reach the config and the maildir.
    root = Path(tempfile.mkdtemp(prefix="opsdesk-dovecot-"))
    root.chmod(0o755)
    try:
        with dovecot(root / "imap") as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


def mailbox(server: ImapServer) -> MailBoxUnencrypted:
    return MailBoxUnencrypted(server.host, server.port).login(server.user, server.password)


def put(server: ImapServer, raw: bytes) -> None:
    with mailbox(server) as box:
        box.append(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), "INBOX")


def unseen(server: ImapServer) -> int:
    with mailbox(server) as box:
        return len(box.uids(AND(seen=False)))


def imap_settings(server: ImapServer) -> dict[str, str]:
    return {
        "imap_host": server.host,
        "imap_port": str(server.port),
        "imap_user": server.user,
        "imap_password": server.password,
        "imap_tls": "none",
    }


class Crash(Exception):
    """Stands for the process dying at this point."""


def test_poll_once_turns_unseen_mail_into_incidents_and_marks_it_seen(
    imap: ImapServer, tmp_path: Path
) -> None:
    desk = MailDesk.create(tmp_path / "desk", **imap_settings(imap))
    put(imap, samples.plain("ida@corp.example", "Printer", "jams"))
    put(imap, samples.iso_2022_jp("山田 <yamada@example.jp>"))
    assert unseen(imap) == 2
    result = desk.run("mail", "poll", "--once")
    assert b"2 mails fetched, 2 processed" in result.stdout
    rows = desk.query("SELECT door, outcome, subject FROM inbound_mails ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("imap", "created", "Printer"),
        ("imap", "created", "サーバー障害"),
    ]
    assert unseen(imap) == 0
    again = desk.run("mail", "poll", "--once")
    assert b"0 mails fetched" in again.stdout


def test_a_crash_between_fetching_and_committing_loses_nothing(
    imap: ImapServer, tmp_path: Path
) -> None:
    desk = MailDesk.create(tmp_path / "desk", **imap_settings(imap))
    put(imap, samples.plain("jo@corp.example", "Disk full", "on db01"))
    settings = Settings(**imap_settings(imap))  # type: ignore[arg-type]
    fetched: list[bytes] = []

    async def die_before_commit(raw: bytes) -> None:
        fetched.append(raw)
        raise Crash

    with pytest.raises(Crash):
        asyncio.run(poll_once(settings, die_before_commit))
    assert fetched and b"Disk full" in fetched[0]
    assert unseen(imap) == 1  # not flagged: it is still there for the next poll
    assert desk.query("SELECT count(*) AS n FROM inbound_mails")[0]["n"] == 0

    # The database is away: the poll fails, the mail stays unseen.
    broken = MailDesk(
        data_dir=desk.data_dir,
        env={**desk.env, "OPSDESK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    import subprocess

    from tests.e2e.mail_server import OPSDESK

    failed = subprocess.run(
        [str(OPSDESK), "mail", "poll", "--once"],
        env=broken.env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert failed.returncode != 0
    assert unseen(imap) == 1

    desk.run("mail", "poll", "--once")
    rows = desk.query("SELECT outcome FROM inbound_mails")
    assert [r["outcome"] for r in rows] == ["created"]
    assert unseen(imap) == 0


def test_a_crash_after_committing_but_before_flagging_makes_no_duplicate(
    imap: ImapServer, tmp_path: Path
) -> None:
    desk = MailDesk.create(tmp_path / "desk", **imap_settings(imap))
    raw = samples.plain("kim@corp.example", "Backup failed", "again")
    put(imap, raw)
    settings = Settings(**imap_settings(imap))  # type: ignore[arg-type]

    async def commit_then_die(fetched: bytes) -> None:
        desk.run("mail", "ingest", stdin=fetched)  # committed (and processed)
        raise Crash

    with pytest.raises(Crash):
        asyncio.run(poll_once(settings, commit_then_die))
    assert unseen(imap) == 1
    desk.run("mail", "poll", "--once")
    assert unseen(imap) == 0
    assert desk.query("SELECT count(*) AS n FROM incidents")[0]["n"] == 1
    assert desk.query("SELECT count(*) AS n FROM inbound_mails")[0]["n"] == 1
