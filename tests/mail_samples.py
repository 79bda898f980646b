"""Real MIME as common mail programs write it, built with the standard ``email`` package."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid

DATE = format_datetime(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


def tiny_png() -> bytes:
    """A real one-pixel PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def plain(sender: str, subject: str, body: str, *, message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "helpdesk@desk.test"
    msg["Subject"] = subject
    msg["Date"] = DATE
    msg["Message-ID"] = message_id or make_msgid(domain="mail.example")
    msg.set_content(body)
    return msg.as_bytes()


def outlook_html_with_inline_image(sender: str, subject: str) -> bytes:
    """Outlook: multipart/related with an HTML body referencing an inline image001.png."""
    msg = MIMEMultipart("related")
    msg["From"] = sender
    msg["To"] = "helpdesk@desk.test"
    msg["Subject"] = subject
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain="EXCH01.corp.example")
    msg["Thread-Index"] = "AdlKq3v0ZJm0nC9bR6+1x2fT3QZ4Ug=="
    msg["X-MS-Has-Attach"] = "yes"
    html = (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><style>'
        "p.MsoNormal{margin:0cm;}</style></head><body lang=EN-US>"
        "<div class=WordSection1><p class=MsoNormal>Hello team,</p>"
        "<p class=MsoNormal>The <b>payroll export</b> fails with error 0x80070005 since "
        "this morning. Screenshot below.</p>"
        '<p class=MsoNormal><img width=1 height=1 src="cid:image001.png@01DA6C3E.12345670">'
        "</p><p class=MsoNormal>Regards,<br>Anna</p></div></body></html>"
    )
    msg.attach(MIMEText(html, "html", "utf-8"))
    image = MIMEBase("image", "png", name="image001.png")
    image.set_payload(tiny_png())
    from email import encoders

    encoders.encode_base64(image)
    image["Content-ID"] = "<image001.png@01DA6C3E.12345670>"
    image["Content-Disposition"] = 'inline; filename="image001.png"'
    msg.attach(image)
    return msg.as_bytes()


def gmail_reply(sender: str, number: str, root_id: str, new_text: str) -> bytes:
    """Gmail: multipart/alternative reply, quoted history in both parts, tag in the subject."""
    quoted = "> Your incident has been received.\n> Number: " + number
    msg = MIMEMultipart("alternative")
    msg["From"] = sender
    msg["To"] = "helpdesk@desk.test"
    msg["Subject"] = f"Re: [#{number}] Printer on floor 3 jams"
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain="mail.gmail.com")
    msg["In-Reply-To"] = root_id
    msg["References"] = root_id
    attribution = "On Mon, 2 Mar 2026 at 10:00, Helpdesk <helpdesk@desk.test> wrote:"
    text = f"{new_text}\n\n{attribution}\n{quoted}\n"
    html = (
        f'<div dir="ltr">{new_text}</div><br><div class="gmail_quote"><div dir="ltr" '
        'class="gmail_attr">On Mon, 2 Mar 2026 at 10:00, Helpdesk wrote:<br></div>'
        f'<blockquote class="gmail_quote">Your incident has been received.</blockquote></div>'
    )
    msg.attach(MIMEText(text, "plain", "utf-8"))
    msg.attach(MIMEText(html, "html", "utf-8"))
    return msg.as_bytes()


def apple_reply_by_references(sender: str, references: list[str], new_text: str) -> bytes:
    """Apple Mail: no tag in the subject, no In-Reply-To, only References threads it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "helpdesk@desk.test"
    msg["Subject"] = "Re: Printer on floor 3 jams"
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain="icloud.com")
    msg["References"] = " ".join(references)
    msg["X-Mailer"] = "Apple Mail (2.3774.300.61.1.2)"
    msg.set_content(
        f"{new_text}\n\nSent from my iPhone\n\n> On 2 Mar 2026, at 10:00, Helpdesk wrote:\n> old"
    )
    return msg.as_bytes()


def out_of_office(sender: str, number: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "helpdesk@desk.test"
    msg["Subject"] = f"Automatic reply: [#{number}] Printer on floor 3 jams"
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain="EXCH01.corp.example")
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content("I am out of the office until Monday.")
    return msg.as_bytes()


def dsn_bounce(
    original_id: str,
    recipient: str,
    number: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <{recipient}>: Recipient address rejected",
    subject: str = "Undelivered Mail Returned to Sender",
) -> bytes:
    """A Postfix-style multipart/report DSN for one of our notifications (as Postfix writes
    it: the ``email`` package cannot generate a message/delivery-status part)."""
    diagnostic = diagnostic.format(recipient=recipient)
    boundary = "B2D4E1A0C3.1709371800/mx.desk.test"
    return f"""Return-Path: <>
From: MAILER-DAEMON@mx.desk.test (Mail Delivery System)
To: helpdesk@desk.test
Subject: {subject}
Date: {DATE}
Message-ID: {make_msgid(domain="mx.desk.test")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.desk.test

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: helpdesk@desk.test
To: {recipient}
Subject: [#{number}] Incident created
Message-ID: {original_id}
X-Opsdesk-Incident: {number}

--{boundary}--
""".replace("\n", "\r\n").encode()


def dsn_delayed(original_id: str, recipient: str, number: str) -> bytes:
    """Postfix's warning that a mail is still queued (``delay_warning_time``): a transient
    4.x.x report, not a bounce."""
    return dsn_bounce(
        original_id,
        recipient,
        number,
        action="delayed",
        status="4.4.1",
        diagnostic="smtp; 451 4.4.1 connect to mx.corp.example: Connection timed out",
        subject="Delayed Mail (still being retried)",
    )


def dsn_mixed(
    original_id: str, failed: str, delayed: str, number: str, *, shared_action: str = ""
) -> bytes:
    """One report on a mail to two recipients (RFC 3464 per-recipient fields): ``failed``
    bounced for good (5.1.1), ``delayed`` is still being retried (4.4.1). Its per-message
    block carries ``shared_action`` when given, which no recipient's outcome may take."""
    boundary = "C3E5F2B1D4.1709371800/mx.desk.test"
    shared = f"Action: {shared_action}\n" if shared_action else ""
    return f"""Return-Path: <>
From: MAILER-DAEMON@mx.desk.test (Mail Delivery System)
To: helpdesk@desk.test
Subject: Undelivered Mail Returned to Sender
Date: {DATE}
Message-ID: {make_msgid(domain="mx.desk.test")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered to one or more recipients.

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.desk.test
{shared}
Final-Recipient: rfc822; {delayed}
Original-Recipient: rfc822;{delayed}
Action: delayed
Status: 4.4.1
Diagnostic-Code: smtp; 451 4.4.1 connect to mx.corp.example: Connection timed out

Final-Recipient: rfc822; {failed}
Original-Recipient: rfc822;{failed}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: helpdesk@desk.test
To: {delayed}, {failed}
Subject: [#{number}] Incident created
Message-ID: {original_id}
X-Opsdesk-Incident: {number}

--{boundary}--
""".replace("\n", "\r\n").encode()


def iso_2022_jp(sender: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "helpdesk@desk.test"
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain="mail.example.jp")
    body = "メールサーバーが応答しません。至急確認してください。"
    msg.set_content(body, charset="iso-2022-jp")
    raw = msg.as_bytes()
    # Japanese mail programs encode the subject as an ISO-2022-JP encoded word.
    subject = (
        "=?ISO-2022-JP?B?"
        + __import__("base64").b64encode("サーバー障害".encode("iso-2022-jp")).decode()
        + "?="
    )
    return b"Subject: " + subject.encode() + b"\n" + raw


def with_attachment(sender: str, subject: str, name: str, data: bytes, mime: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "helpdesk@desk.test"
    msg["Subject"] = subject
    msg["Date"] = DATE
    msg["Message-ID"] = make_msgid(domain="mail.example")
    msg.set_content("Please see the attached file.")
    maintype, subtype = mime.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def exe_attachment(sender: str) -> bytes:
    return with_attachment(
        sender,
        "Tool crashes",
        "setup.exe",
        b"MZ\x90\x00" + b"\x00" * 200,
        "application/octet-stream",
    )


def thirty_megabytes(sender: str) -> bytes:
    """About 30 MB on the wire: a 22 MB PDF, base64-encoded."""
    pdf = b"%PDF-1.4\n" + b"0" * (22 * 1024 * 1024) + b"\n%%EOF\n"
    return with_attachment(sender, "Huge log bundle", "bundle.pdf", pdf, "application/pdf")
