"""Real MIME through real SMTP sessions against a real ``opsdesk mail serve`` process."""

from __future__ import annotations

import os
import re
import signal
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import mail_samples as samples
from tests.e2e.mail_server import MailDesk

pytestmark = pytest.mark.e2e


def on_the_wire(raw: bytes) -> bytes:
    """CRLF line ends, as every MTA sends (the ``email`` package writes bare LF)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(desk: MailDesk, raw: bytes, sender: str = "someone@corp.example") -> int:
    """One SMTP session; returns the inbound mail id the 250 names."""
    raw = on_the_wire(raw)
    with smtplib.SMTP("127.0.0.1", desk.port, timeout=60) as client:
        client.ehlo()
        assert client.mail(sender)[0] == 250
        assert client.rcpt("helpdesk@desk.test")[0] == 250
        code, reply = client.data(raw)
    assert code == 250, reply
    found = re.search(rb"inbound mail (\d+)", reply)
    assert found, reply
    return int(found.group(1))


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailDesk]:
    mail_desk = MailDesk.create(tmp_path_factory.mktemp("mail-e2e"))
    mail_desk.run("users", "create", "tech@desk.test", "--role", "technician", "--name", "Tess")
    mail_desk.run("users", "create", "admin@desk.test", "--role", "admin")
    mail_desk.start()
    try:
        yield mail_desk
    finally:
        mail_desk.stop()


def test_outlook_html_with_inline_image_creates_an_email_incident(desk: MailDesk) -> None:
    raw = samples.outlook_html_with_inline_image("Anna Berg <anna@corp.example>", "Payroll down")
    mail = desk.mail(send(desk, raw))
    assert (mail["status"], mail["outcome"], mail["sender"]) == (
        "done",
        "created",
        "anna@corp.example",
    )
    incident = desk.incident(mail["incident_id"])
    assert (incident["title"], incident["channel"]) == ("Payroll down", "email")
    assert "payroll export" in incident["description"]
    assert "<p" not in incident["description"]
    files = desk.query(
        "SELECT file_name, content_type FROM incident_attachments WHERE incident_id = ?",
        incident["id"],
    )
    assert [tuple(f) for f in files] == [("image001.png", "image/png")]
    reporter = desk.query("SELECT * FROM users WHERE id = ?", incident["reporter_id"])[0]
    assert (reporter["email"], reporter["name"], reporter["role"]) == (
        "anna@corp.example",
        "Anna Berg",
        "end_user",
    )


def test_gmail_reply_and_apple_reply_thread_without_quotes(desk: MailDesk) -> None:
    first = desk.mail(send(desk, samples.plain("bo@corp.example", "Printer on floor 3", "jams")))
    number = first["incident_number"]
    root = f"<incident-{number}@desk.test>"
    gmail = desk.mail(send(desk, samples.gmail_reply("bo@corp.example", number, root, "Again.")))
    assert (gmail["outcome"], gmail["incident_number"]) == ("threaded", number)
    ours = f"<incident-{number}.public_reply.5f2c@desk.test>"
    apple_raw = samples.apple_reply_by_references("bo@corp.example", [ours], "Tray 2 now")
    apple = desk.mail(send(desk, apple_raw))
    assert (apple["outcome"], apple["incident_number"]) == ("threaded", number)
    staff_raw = samples.gmail_reply("tech@desk.test", number, root, "On my way.")
    staff = desk.mail(send(desk, staff_raw))
    assert staff["outcome"] == "threaded"
    entries = desk.query(
        "SELECT c.body, c.internal, u.email FROM incident_conversations c "
        "JOIN users u ON u.id = c.author_id WHERE c.incident_id = ? ORDER BY c.id",
        first["incident_id"],
    )
    assert [tuple(e) for e in entries] == [
        ("Again.", 0, "bo@corp.example"),
        ("Tray 2 now", 0, "bo@corp.example"),
        ("On my way.", 0, "tech@desk.test"),
    ]


def test_out_of_office_and_dsn_bounce_never_act(desk: MailDesk) -> None:
    first = desk.mail(send(desk, samples.plain("cy@corp.example", "VPN", "down")))
    number = first["incident_number"]
    ooo = desk.mail(send(desk, samples.out_of_office("cy@corp.example", number)))
    assert (ooo["outcome"], ooo["incident_id"]) == ("ignored_auto_reply", None)
    assert "Auto-Submitted" in ooo["reason"]
    original = f"<incident-{number}.assigned.77aa@desk.test>"
    dsn = samples.dsn_bounce(original, "cy@corp.example", number)
    bounce = desk.mail(send(desk, dsn, sender=""))
    assert (bounce["outcome"], bounce["incident_number"]) == ("bounce", number)
    assert desk.query("SELECT bounces FROM bouncing_addresses WHERE address = ?", "cy@corp.example")
    conversation = desk.query(
        "SELECT count(*) AS n FROM incident_conversations WHERE incident_id = ?",
        first["incident_id"],
    )
    assert conversation[0]["n"] == 0
    incident = desk.incident(first["incident_id"])
    assert incident["status"] == "INCIDENT_STATUS_TRIGGERED"
    notes = desk.query(
        "SELECT comment FROM incident_history WHERE incident_id = ? AND internal = 1",
        first["incident_id"],
    )
    assert any("bounced" in n["comment"] for n in notes)


def test_iso_2022_jp_mail(desk: MailDesk) -> None:
    mail = desk.mail(send(desk, samples.iso_2022_jp("山田 <yamada@example.jp>")))
    incident = desk.incident(mail["incident_id"])
    assert incident["title"] == "サーバー障害"
    assert incident["description"] == "メールサーバーが応答しません。至急確認してください。"


def test_thirty_megabyte_mail_creates_its_incident_and_notes_the_refused_file(
    desk: MailDesk,
) -> None:
    raw = samples.thirty_megabytes("dee@corp.example")
    assert len(raw) > 30_000_000
    mail = desk.mail(send(desk, raw), timeout_s=120)
    assert mail["outcome"] == "created"
    assert mail["size"] == len(on_the_wire(raw))
    incident = desk.incident(mail["incident_id"])
    assert "bundle.pdf: larger than 10 MB" in incident["description"]


def test_exe_attachment_is_refused_and_noted(desk: MailDesk) -> None:
    mail = desk.mail(send(desk, samples.exe_attachment("eve@corp.example")))
    assert mail["outcome"] == "created"
    incident = desk.incident(mail["incident_id"])
    assert "Attachments not accepted: setup.exe" in incident["description"]
    files = desk.query(
        "SELECT count(*) AS n FROM incident_attachments WHERE incident_id = ?", incident["id"]
    )
    assert files[0]["n"] == 0


def test_huge_header_and_broken_mime_get_defined_outcomes(desk: MailDesk) -> None:
    folded = b"X-Junk: " + b"\r\n ".join([b"y" * 70] * 800) + b"\r\n"
    raw = b"From: fay@corp.example\r\n" + folded + b"Subject: big header\r\n\r\nbody\r\n"
    assert desk.mail(send(desk, raw))["outcome"] == "created"
    broken = (
        b"From: fay@corp.example\r\nSubject: broken\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--nothing\r\nno boundary declared"
    )
    assert desk.mail(send(desk, broken))["outcome"] == "created"
    with smtplib.SMTP("127.0.0.1", desk.port, timeout=30) as client:
        client.ehlo()
        client.mail("fay@corp.example")
        client.rcpt("helpdesk@desk.test")
        code, _reply = client.data(b"Subject: " + b"z" * 100_000 + b"\r\n\r\nx")
    assert code == 500  # a single 100 kB line: refused in the session, nothing half-stored


async def test_the_operator_view_shows_every_outcome(desk: MailDesk) -> None:
    """The admin API and page of the app, on the database the listener wrote."""
    import httpx

    from opsdesk.app import create_app
    from opsdesk.core.database import Database
    from opsdesk.core.settings import Settings

    created = send(desk, samples.plain("hal@corp.example", "Beamer", "no signal"))
    number = desk.mail(created)["incident_number"]
    ignored = send(desk, samples.out_of_office("hal@corp.example", number))
    desk.mail(ignored)
    token = desk.run("tokens", "create", "admin@desk.test").stdout.decode().strip()
    url = desk.env["OPSDESK_DATABASE_URL"]
    db = Database(url)
    app = create_app(Settings(data_dir=desk.data_dir, database_url=url), db=db)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as http:
            headers = {"Authorization": f"Bearer {token}"}
            listing = await http.get("/api/v1/admin/inbound-mails?per_page=100", headers=headers)
            assert listing.status_code == 200, listing.text
            by_id = {item["id"]: item for item in listing.json()["items"]}
            assert by_id[created]["outcome"] == "created"
            assert by_id[created]["incident_number"] == number
            assert by_id[ignored]["outcome"] == "ignored_auto_reply"
            assert "Auto-Submitted" in by_id[ignored]["reason"]
            seen = {item["outcome"] for item in by_id.values()}
            # Whatever ran before in this module (threaded replies, a bounce) is listed too.
            assert seen <= {"created", "threaded", "ignored_auto_reply", "bounce"}
    finally:
        await db.dispose()


def test_kill_9_after_250_loses_nothing(tmp_path: Path) -> None:
    desk = MailDesk.create(tmp_path)
    desk.start()
    try:
        small = [
            send(desk, samples.plain(f"k{i}@corp.example", f"Kill {i}", "x")) for i in range(5)
        ]
        sent = list(small)
        # The kill must land after the 250 and before the 30 MB mail is processed; on a busy
        # machine processing can win that race, and then the next attempt tries again.
        for attempt in range(3):
            big = send(desk, samples.thirty_megabytes(f"big{attempt}@corp.example"))
            sent.append(big)
            assert desk.process is not None
            os.kill(desk.process.pid, signal.SIGKILL)
            desk.process.wait(timeout=10)
            pending = desk.query("SELECT id FROM inbound_mails WHERE status = 'pending'")
            desk.start()
            if big in [row["id"] for row in pending]:  # acknowledged, not yet processed
                break
        else:
            pytest.fail("each of three kills came after the 30 MB mail was processed")
        for mail_id in sent:
            mail = desk.mail(mail_id, timeout_s=120)
            assert mail["outcome"] == "created"
            assert mail["incident_id"] is not None
        counted = desk.query("SELECT count(*) AS n FROM incidents")
        assert counted[0]["n"] == len(sent)
    finally:
        desk.stop()


def test_mta_pipe_exit_codes(tmp_path: Path) -> None:
    desk = MailDesk.create(tmp_path)
    result = desk.run("mail", "ingest", stdin=samples.plain("gil@corp.example", "Pipe", "in"))
    assert b"stored" in result.stdout
    rows = desk.query("SELECT outcome, door FROM inbound_mails")
    assert [tuple(r) for r in rows] == [("created", "pipe")]
    import subprocess

    from tests.e2e.mail_server import OPSDESK

    empty = subprocess.run(
        [str(OPSDESK), "mail", "ingest"], env=desk.env, input=b"", capture_output=True, check=False
    )
    assert empty.returncode == 65
    broken_env = {**desk.env, "OPSDESK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    unreachable = subprocess.run(
        [str(OPSDESK), "mail", "ingest"],
        env=broken_env,
        input=samples.plain("gil@corp.example", "Pipe", "in"),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert unreachable.returncode == 75, unreachable.stderr
