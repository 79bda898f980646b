"""Mail messages, templates and webhook signatures, without a database or a network."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
from email.message import EmailMessage
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from opsdesk.core.errors import ValidationFailed
from opsdesk.notify.mail import (
    OutgoingMail,
    mail_domain,
    message_bytes,
    new_message_id,
    root_message_id,
    tag_subject,
)
from opsdesk.notify.rules import DEFAULT_RULES, RecipientKind, parse_recipients
from opsdesk.notify.templates import (
    EVENTS,
    SAMPLE_CONTEXT,
    MailTemplate,
    default_template,
    render,
    validate_template,
)
from opsdesk.notify.webhooks import check_url, sign, verify

NUMBER = "INC20260302100000001"


def _mail(**changes: Any) -> OutgoingMail:
    values: dict[str, Any] = {
        "message_id": f"<incident-{NUMBER}.resolved.abc@desk.example>",
        "sender": "Service Desk <desk@desk.example>",
        "to": "una@example.com",
        "to_name": "Una User",
        "subject": f"[#{NUMBER}] Incident resolved",
        "text": "Plain text part\n",
        "html": "<p>HTML part</p>\n",
        "date": "2026-03-02T10:00:00+00:00",
        "in_reply_to": root_message_id(NUMBER, "desk.example"),
        "references": [root_message_id(NUMBER, "desk.example")],
        "incident": NUMBER,
        "event": "resolved",
    }
    return OutgoingMail(**(values | changes))


def _content(part: EmailMessage) -> str:
    """A part's text with line ends as a mail client shows them (CRLF on the wire)."""
    text: str = part.get_content()
    return text.replace("\r\n", "\n")


def _reparse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_every_mail_carries_the_loop_and_auto_response_headers() -> None:
    message = _reparse(message_bytes(_mail()))
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Precedence"] == "bulk"
    assert message["X-Loop"] == "desk@desk.example"
    assert message["From"] == "Service Desk <desk@desk.example>"
    assert message["To"] == "Una User <una@example.com>"
    assert message["Date"] == "Mon, 02 Mar 2026 10:00:00 +0000"
    assert message["X-Opsdesk-Incident"] == NUMBER


def test_a_follow_up_mail_threads_under_the_incident_root() -> None:
    message = _reparse(message_bytes(_mail()))
    root = f"<incident-{NUMBER}@desk.example>"
    assert message["Message-ID"] == f"<incident-{NUMBER}.resolved.abc@desk.example>"
    assert message["In-Reply-To"] == root
    assert message["References"] == root
    assert message["Subject"] == f"[#{NUMBER}] Incident resolved"


def test_the_root_mail_has_no_parent() -> None:
    root = root_message_id(NUMBER, "desk.example")
    message = _reparse(message_bytes(_mail(message_id=root, in_reply_to=None, references=[])))
    assert message["Message-ID"] == root
    assert message["In-Reply-To"] is None
    assert message["References"] is None


def test_the_message_has_a_text_and_an_html_alternative_in_that_order() -> None:
    message = _reparse(message_bytes(_mail()))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert _content(parts[0]) == "Plain text part\n"
    assert _content(parts[1]) == "<p>HTML part</p>\n"


def test_non_ascii_names_and_subjects_are_encoded_and_long_lines_survive() -> None:
    text = "Grüße aus Köln\n" + "x" * 500 + "\n.\nlast line\n"
    mail = _mail(
        to_name="Jörg Müller",
        subject=f"[#{NUMBER}] Störung: 邮件服务器",
        text=text,
        html="<p>ü</p>",
    )
    raw = message_bytes(mail)
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = _reparse(raw)
    assert message["Subject"] == f"[#{NUMBER}] Störung: 邮件服务器"
    assert message["To"] == "Jörg Müller <una@example.com>"
    text_part, html_part = message.iter_parts()
    assert _content(text_part) == text
    assert _content(html_part) == "<p>ü</p>"


def test_a_message_built_twice_is_byte_identical() -> None:
    assert message_bytes(_mail()) == message_bytes(_mail())


def test_a_line_break_in_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="to: a line break"):
        message_bytes(_mail(to="una@example.com\r\nBcc: all@example.com"))


def test_message_ids_are_unique_and_end_in_our_domain() -> None:
    domain = mail_domain("Service Desk <desk@desk.example>")
    assert domain == "desk.example"
    assert mail_domain("nobody") == "localhost"
    first, second = (new_message_id(NUMBER, "assigned", domain) for _ in range(2))
    assert first != second
    assert first.startswith(f"<incident-{NUMBER}.assigned.") and first.endswith("@desk.example>")


def test_the_subject_tag_is_added_once() -> None:
    assert tag_subject("Mail is down", NUMBER) == f"[#{NUMBER}] Mail is down"
    assert tag_subject(f"Re: [#{NUMBER}] Mail is down", NUMBER) == f"Re: [#{NUMBER}] Mail is down"


def test_the_payload_round_trips() -> None:
    mail = _mail()
    assert OutgoingMail.from_payload(mail.to_payload()) == mail


# Templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_has_a_default_that_passes_the_save_check(event: str) -> None:
    template = default_template(event)
    validate_template(template)
    rendered = render(template, SAMPLE_CONTEXT)
    assert rendered.subject and "\n" not in rendered.subject
    assert SAMPLE_CONTEXT["incident"]["number"] in rendered.text
    assert "<html>" in rendered.html


def test_html_is_escaped_and_text_is_not() -> None:
    context = SAMPLE_CONTEXT | {"comment": "<script>alert(1)</script> & more"}
    rendered = render(default_template("public_reply"), context)
    assert "<script>alert(1)</script> & more" in rendered.text
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in rendered.html


def test_a_multi_line_subject_becomes_one_line() -> None:
    template = MailTemplate(
        subject="{{ incident.title }}\n\nBcc: x@evil", text_body="t", html_body="h"
    )
    assert render(template, SAMPLE_CONTEXT).subject == "Mail server does not answer Bcc: x@evil"


def _with(part: str, source: str) -> MailTemplate:
    base = default_template("created")
    return MailTemplate(
        subject=source if part == "subject" else base.subject,
        text_body=source if part == "text_body" else base.text_body,
        html_body=source if part == "html_body" else base.html_body,
    )


@pytest.mark.parametrize(
    ("part", "source", "message"),
    [
        ("subject", "{{ incident.number ", "syntax error"),
        ("text_body", "{% if comment %}never closed", "syntax error"),
        ("html_body", "{{ incident_number }}", "unknown variable 'incident_number'"),
        ("text_body", "{{ incident.titel }}", "has no attribute 'titel'"),
        ("subject", "   ", "must not be empty"),
    ],
)
def test_a_broken_template_is_refused_naming_the_part(part: str, source: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        validate_template(_with(part, source))
    assert caught.value.field == part
    assert str(caught.value).startswith(f"{part}: ")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ incident.__init__.__globals__ }}",
        "{{ extra.update({'x': 1}) }}",
        "{{ incident.clear() }}",
    ],
)
def test_the_sandbox_refuses_attribute_tricks_and_mutation(source: str) -> None:
    with pytest.raises(ValidationFailed, match=r"unsafe|not safely callable") as caught:
        validate_template(_with("text_body", source))
    assert caught.value.field == "text_body"
    with pytest.raises(SecurityError, match=r"unsafe|not safely callable"):
        render(_with("text_body", source), SAMPLE_CONTEXT)


# Rules and webhooks ---------------------------------------------------------------------


def test_by_default_the_reporter_hears_of_creation_and_resolution() -> None:
    assert RecipientKind.REPORTER in DEFAULT_RULES["created"]
    assert RecipientKind.REPORTER in DEFAULT_RULES["resolved"]
    assert set(DEFAULT_RULES) == set(EVENTS)


def test_recipient_kinds_are_checked_and_deduplicated() -> None:
    assert parse_recipients(["group", "reporter", "group"]) == [
        RecipientKind.GROUP,
        RecipientKind.REPORTER,
    ]
    with pytest.raises(ValidationFailed, match="unknown recipient kind 'boss'") as caught:
        parse_recipients(["boss"], field="rules.0.recipients")
    assert caught.value.field == "rules.0.recipients"


def test_the_signature_is_the_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"event":"incident.created"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret-s3cret-s3cret", body) == f"sha256={expected}"
    assert verify("s3cret-s3cret-s3cret", body, f"sha256={expected}")
    assert not verify("s3cret-s3cret-s3cret", body + b" ", f"sha256={expected}")
    assert not verify("another-secret-xx", body, f"sha256={expected}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://internal:70/", "only http and https"),
        ("ftp://example.com/hook", "only http and https"),
        ("http:///no-host", "no host"),
        ("https://user:pw@example.com/hook", "no credentials"),
        ("https://example.com:99999/", "not a URL"),
        ("https://example.com/" + "a" * 2000, "longer than"),
    ],
)
def test_webhook_urls_other_than_plain_http_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as caught:
        check_url(url)
    assert caught.value.field == "url"


def test_a_plain_https_url_is_accepted() -> None:
    assert check_url(" https://hooks.example.com:8443/opsdesk?x=1 ") == (
        "https://hooks.example.com:8443/opsdesk?x=1"
    )
