"""The inbound mail parser, loop rules and threading rules: pure, on real MIME."""

from __future__ import annotations

import pytest

from opsdesk.intake.email import threads
from opsdesk.intake.email.loops import Kind, classify, permanent_failure
from opsdesk.intake.email.parser import (
    DeliveryReport,
    MailUnreadable,
    codec_for,
    decode_words,
    parse_mail,
    peek_message_id,
)
from tests import mail_samples as samples

NUMBER = "IM202603021000000001234567"
OURS = {"our_address": "helpdesk@desk.test", "our_domain": "desk.test"}


def test_outlook_html_becomes_text_and_keeps_the_inline_image() -> None:
    mail = parse_mail(samples.outlook_html_with_inline_image("Anna <anna@corp.example>", "Payroll"))
    assert mail.from_html
    assert "payroll export" in mail.text
    assert "<b>" not in mail.text and "MsoNormal" not in mail.text
    assert [(a.name, a.inline, a.content_id) for a in mail.attachments] == [
        ("image001.png", True, "image001.png@01DA6C3E.12345670")
    ]
    assert mail.attachments[0].data.startswith(b"\x89PNG")
    assert classify(mail, **OURS).kind is Kind.PERSON


def test_gmail_reply_prefers_text_plain_and_loses_its_quote() -> None:
    root = f"<incident-{NUMBER}@desk.test>"
    mail = parse_mail(samples.gmail_reply("bob@gmail.example", NUMBER, root, "Still broken."))
    assert not mail.from_html
    assert threads.number_in_subject(mail.subject) == NUMBER
    assert mail.in_reply_to == [root]
    assert threads.strip_quoted(mail.text) == "Still broken."


def test_apple_reply_is_threaded_by_references_alone() -> None:
    refs = ["<abc@mail.example>", f"<incident-{NUMBER}.public_reply.0f0f@desk.test>"]
    mail = parse_mail(samples.apple_reply_by_references("bob@icloud.example", refs, "Works now"))
    assert threads.number_in_subject(mail.subject) is None
    assert mail.in_reply_to == []
    assert threads.numbers_in_our_ids(mail.references, "desk.test") == [NUMBER]
    assert threads.numbers_in_our_ids(mail.references, "elsewhere.test") == []
    assert threads.strip_quoted(mail.text) == "Works now"


def test_iso_2022_jp_subject_and_body() -> None:
    mail = parse_mail(samples.iso_2022_jp("山田 <yamada@example.jp>"))
    assert mail.subject == "サーバー障害"
    assert mail.text == "メールサーバーが応答しません。至急確認してください。"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("gb18030", "服务器无法访问"),
        ("gb2312", "服务器无法访问"),
        ("windows-1252", "Caf\u00e9 \u2013 \u20ac5"),
    ],
)
def test_body_charsets(charset: str, text: str) -> None:
    codec = "gb18030" if charset == "gb2312" else charset
    raw = (
        f"From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; charset={charset}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + text.encode(codec)
    assert parse_mail(raw).text == text


def test_lying_and_unknown_charsets_never_fail() -> None:
    # Labelled iso-8859-1 but written in windows-1252 (the euro sign), and a made-up label.
    raw = b"From: a@b.example\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nPrice \x80 5"
    assert parse_mail(raw).text == "Price € 5"
    raw = b"From: a@b.example\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nhello \xff"
    assert parse_mail(raw).text.startswith("hello")
    assert codec_for("x-klingon") == "utf-8"


def test_encoded_words_and_raw_8bit_headers() -> None:
    assert decode_words("=?utf-8?q?Gr=C3=BC=C3=9Fe?= =?utf-8?q?_aus_Bonn?=") == "Grüße aus Bonn"
    assert decode_words("=?gb2312?B?t/7O8cb3?=") == "服务器"
    assert decode_words("=?broken?x?zzz?=") == "=?broken?x?zzz?="
    raw = "From: Jörg <j@x.example>\r\nSubject: Störung\r\n\r\nx".encode()
    mail = parse_mail(raw)
    assert (mail.subject, mail.from_name) == ("Störung", "Jörg")


def test_malformed_mime_is_parsed_as_far_as_it_goes() -> None:
    raw = (
        b"From: a@b.example\r\nSubject: broken\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"no boundary at all, just text"
    )
    mail = parse_mail(raw)
    assert mail.subject == "broken"
    assert mail.defects
    raw = (
        b'From: a@b.example\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n"
    )
    parse_mail(raw)  # an unterminated multipart with a bad base64 part: no exception


def test_not_a_mail() -> None:
    with pytest.raises(MailUnreadable):
        parse_mail(b"   \r\n")


def test_huge_header_is_cut() -> None:
    raw = b"From: a@b.example\r\nSubject: " + b"x" * 200_000 + b"\r\n\r\nbody"
    mail = parse_mail(raw)
    assert len(mail.subject) <= 4000
    assert mail.text == "body"


def test_exe_attachment_is_listed_for_the_rules_to_refuse() -> None:
    mail = parse_mail(samples.exe_attachment("a@b.example"))
    assert [a.name for a in mail.attachments] == ["setup.exe"]


def test_peek_message_id() -> None:
    raw = b"From: a@b\r\nMessage-ID:\r\n <x.1@host>\r\n\r\nMessage-ID: <body@no>"
    assert peek_message_id(raw) == "<x.1@host>"
    assert peek_message_id(b"From: a@b\r\n\r\n") is None


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Auto-Submitted: auto-replied", Kind.AUTOMATIC),
        ("Auto-Submitted: no", Kind.PERSON),
        ("Precedence: bulk", Kind.AUTOMATIC),
        ("Precedence: list", Kind.AUTOMATIC),
        ("Precedence: junk", Kind.AUTOMATIC),
        ("X-Auto-Response-Suppress: OOF", Kind.AUTOMATIC),
        ("Return-Path: <>", Kind.AUTOMATIC),
        ("X-Loop: helpdesk@desk.test", Kind.OWN),
        ("X-Mailer: Outlook", Kind.PERSON),
    ],
)
def test_loop_rules(header: str, kind: Kind) -> None:
    raw = f"From: someone@corp.example\r\n{header}\r\nSubject: hi\r\n\r\nbody".encode()
    assert classify(parse_mail(raw), **OURS).kind is kind


def test_our_own_message_ids_are_dropped_even_without_x_loop() -> None:
    raw = f"From: a@corp.example\r\nMessage-ID: <incident-{NUMBER}@desk.test>\r\n\r\nx"
    assert classify(parse_mail(raw.encode()), **OURS).kind is Kind.OWN
    raw = f"From: a@corp.example\r\nMessage-ID: <incident-{NUMBER}@other.test>\r\n\r\nx"
    assert classify(parse_mail(raw.encode()), **OURS).kind is Kind.PERSON


def test_robots_and_reports_are_bounces() -> None:
    for sender in ("MAILER-DAEMON@mx.example", "postmaster@corp.example"):
        raw = f"From: {sender}\r\nSubject: failure\r\n\r\nbody".encode()
        assert classify(parse_mail(raw), **OURS).kind is Kind.BOUNCE
    original = f"<incident-{NUMBER}@desk.test>"
    mail = parse_mail(samples.dsn_bounce(original, "gone@corp.example", NUMBER))
    assert classify(mail, **OURS).kind is Kind.BOUNCE
    assert mail.report is not None
    assert mail.report.recipients == ["gone@corp.example"]
    assert mail.report.status == "5.1.1"
    assert mail.report.original_message_id == original
    assert permanent_failure(mail.report)


def test_a_delayed_report_is_a_bounce_but_not_a_permanent_failure() -> None:
    original = f"<incident-{NUMBER}@desk.test>"
    mail = parse_mail(samples.dsn_delayed(original, "slow@corp.example", NUMBER))
    assert classify(mail, **OURS).kind is Kind.BOUNCE
    assert mail.report is not None
    assert (mail.report.action, mail.report.status) == ("delayed", "4.4.1")
    assert not permanent_failure(mail.report)


@pytest.mark.parametrize("shared_action", ["", "failed"])
def test_each_recipient_of_a_report_has_its_own_action_and_status(shared_action: str) -> None:
    original = f"<incident-{NUMBER}@desk.test>"
    raw = samples.dsn_mixed(
        original, "gone@corp.example", "slow@corp.example", NUMBER, shared_action=shared_action
    )
    report = parse_mail(raw).report
    assert report is not None
    assert report.recipients == ["slow@corp.example", "gone@corp.example"]
    assert [(s.address, s.action, s.status) for s in report.statuses] == [
        ("slow@corp.example", "delayed", "4.4.1"),
        ("gone@corp.example", "failed", "5.1.1"),
    ]
    slow, gone = report.statuses
    assert "451 4.4.1" in slow.diagnostic and "550 5.1.1 <gone@corp.example>" in gone.diagnostic
    assert [permanent_failure(s) for s in report.statuses] == [False, True]
    assert report.original_message_id == original


def test_a_recipient_without_its_own_status_takes_the_reports() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n"
        b"Final-Recipient: rfc822; a@corp.example\r\n\r\n"
        b"Final-Recipient: rfc822; b@corp.example\r\nAction: delayed\r\nStatus: 4.0.0\r\n"
        b"\r\n--b--\r\n"
    )
    report = parse_mail(raw).report
    assert report is not None
    assert [(s.address, s.action, s.status) for s in report.statuses] == [
        ("a@corp.example", "failed", "5.0.0"),
        ("b@corp.example", "delayed", "4.0.0"),
    ]


@pytest.mark.parametrize(
    ("action", "status", "permanent"),
    [
        ("failed", "5.1.1", True),
        ("Failed", "", True),
        ("", "5.2.2", True),
        ("failed", "4.4.7", True),
        ("delayed", "4.4.1", False),
        ("", "4.2.2", False),
        ("delivered", "2.0.0", False),
        ("", "", False),
    ],
)
def test_only_a_failed_action_or_a_5xx_status_is_permanent(
    action: str, status: str, permanent: bool
) -> None:
    report = DeliveryReport(["a@corp.example"], action, status, "", None, {})
    assert permanent_failure(report) is permanent


def test_out_of_office_is_automatic() -> None:
    mail = parse_mail(samples.out_of_office("anna@corp.example", NUMBER))
    assert classify(mail, **OURS).kind is Kind.AUTOMATIC


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        (f"Re: [#{NUMBER}] Printer jams", "Printer jams"),
        ("RE: AW: Fwd: VPN down", "VPN down"),
        ("回复: 服务器", "服务器"),
        ("Re:", ""),
    ],
)
def test_clean_subject(subject: str, title: str) -> None:
    assert threads.clean_subject(subject) == title


def test_strip_quoted_outlook_and_signature() -> None:
    text = "Fixed, thanks.\n\n-- \nAnna\nIT\n"
    assert threads.strip_quoted(text) == "Fixed, thanks."
    text = "Yes.\n\n-----Original Message-----\nFrom: Helpdesk\nSent: Monday\n"
    assert threads.strip_quoted(text) == "Yes."
    assert threads.strip_quoted("> only quote") == "> only quote"
