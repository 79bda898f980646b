"""MIME → a parsed mail: headers decoded, one text body, attachments, delivery reports.

Pure: bytes in, a ``ParsedMail`` out. Mail in the wild is often broken, so nothing here
trusts a header or a charset label: unknown or wrong charsets fall back to a lenient
decode, encoded words that fail stay as they came, and a part that cannot be decoded is
skipped with a note in ``defects`` rather than failing the whole mail. Only bytes that are
not a mail at all raise ``MailUnreadable``.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from inscriptis import get_text

# Labels that lie: senders say gb2312 but write GBK/GB18030, say iso-8859-1 or us-ascii
# but write windows-1252 (the WHATWG encoding standard makes the same substitutions).
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ks_c_5601-1987": "cp949",
    "iso-2022-jp": "iso2022_jp_ext",
    "unicode-1-1-utf-7": "utf-7",
}
HEADER_VALUE_MAX = 4000
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,240}>")
_ENCODED_WORD_GAP = re.compile(r"(\?=)\s+(=\?)")


class MailUnreadable(ValueError):
    """The bytes are not a mail (empty, or no header at all)."""


@dataclass(frozen=True)
class ParsedAttachment:
    name: str
    content_type: str
    data: bytes
    inline: bool
    content_id: str | None = None


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient's fields of a DSN (RFC 3464 section 2.3): each has its own outcome."""

    address: str
    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True)
class DeliveryReport:
    """A DSN (RFC 3464): who could not be reached, why, and which of our mails it was.

    ``statuses`` holds one entry per ``Final-Recipient``; ``action``, ``status`` and
    ``diagnostic`` are the first recipient's, for a one-line summary only."""

    recipients: list[str]
    action: str
    status: str
    diagnostic: str
    original_message_id: str | None
    original_headers: dict[str, str]
    statuses: list[RecipientStatus] = field(default_factory=list)


@dataclass
class ParsedMail:
    message_id: str | None
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    in_reply_to: list[str]
    references: list[str]
    headers: dict[str, str]
    text: str
    from_html: bool
    attachments: list[ParsedAttachment] = field(default_factory=list)
    report: DeliveryReport | None = None
    content_type: str = "text/plain"
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def codec_for(charset: str | None) -> str:
    """A Python codec for a MIME charset label, lenient about the lies above."""
    label = (charset or "").strip().strip('"').lower()
    label = CHARSET_ALIASES.get(label, label)
    if not label:
        return "utf-8"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return "utf-8"


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text of a part: its declared charset, else UTF-8, else windows-1252; never fails."""
    codec = codec_for(charset)
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def decode_words(value: str) -> str:
    """A header with RFC 2047 encoded words made readable; a broken word stays as it was."""
    value = _ENCODED_WORD_GAP.sub(r"\1\2", value)  # whitespace between words is not text
    if "=?" not in value:
        return " ".join(value.split())
    try:
        pieces = decode_header(value)
    except (ValueError, LookupError, AssertionError):
        return " ".join(value.split())
    out: list[str] = []
    for chunk, charset in pieces:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def _raw_header(message: Message, name: str) -> str:
    """A header's value as text; raw 8-bit bytes (no encoded words) read as UTF-8 or 1252."""
    values = message.get_all(name) or []
    if not values:
        return ""
    value = values[0]
    if isinstance(value, Header):
        raw = b"".join(
            chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogateescape")
            for chunk, _charset in decode_header(value)
        )
        return decode_bytes(raw, "utf-8")[:HEADER_VALUE_MAX]
    text = str(value)
    if any("\udc80" <= char <= "\udcff" for char in text):
        text = decode_bytes(text.encode("utf-8", errors="surrogateescape"), "utf-8")
    return text[:HEADER_VALUE_MAX]


def message_ids(value: str) -> list[str]:
    """Every ``<id>`` in a Message-ID, In-Reply-To or References header, in order."""
    return _MESSAGE_ID.findall(value)


def peek_message_id(raw: bytes) -> str | None:
    """The Message-ID from the header block only (cheap: for deduplication before parsing)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    match = re.search(rb"(?im)^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", head)
    if match is None:
        return None
    ids = message_ids(match.group(1).decode("ascii", errors="replace"))
    return ids[0] if ids else None


def _html_to_text(html: str) -> str:
    try:
        text = get_text(html)
    except (ValueError, TypeError, AttributeError):
        text = re.sub(r"<[^>]+>", " ", html)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _part_name(part: Message, index: int) -> str:
    name = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if isinstance(name, tuple):  # RFC 2231: (charset, language, value)
        name = email.utils.collapse_rfc2231_value(name)
    text = decode_words(str(name)) if name else ""
    if text:
        return text
    subtype = part.get_content_subtype() or "bin"
    extension = {"jpeg": "jpg", "plain": "txt"}.get(subtype, subtype)
    return f"{part.get_content_maintype()}-{index}.{extension}"


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    if part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html"):
        return bool(part.get_param("filename", header="content-disposition")) and (
            disposition != "inline"
        )
    return True


def _report_of(message: Message) -> DeliveryReport | None:
    status_part = next(
        (p for p in message.walk() if p.get_content_type() == "message/delivery-status"), None
    )
    if status_part is None:
        return None
    fields: dict[str, str] = {}
    payload = status_part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    if not blocks:
        raw = status_part.get_payload(decode=True)
        text = decode_bytes(raw, "utf-8") if isinstance(raw, bytes) else str(payload)
        blocks = [email.message_from_string(b) for b in re.split(r"\r?\n\r?\n", text) if b]
    # The first block holds the per-message fields, each further one a recipient's own
    # Action and Status; a field outside any recipient block stands in for a missing one.
    statuses: list[RecipientStatus] = []
    for block in blocks:
        if not isinstance(block, Message):
            continue
        own: dict[str, str] = {}
        address = ""
        for key, value in block.items():
            name = key.lower()
            if name == "final-recipient":
                address = address or str(value).split(";", 1)[-1].strip().strip("<>").strip()
            elif name != "original-recipient":
                own.setdefault(name, " ".join(str(value).split()))
        if not address:
            for name, value in own.items():
                fields.setdefault(name, value)
            continue
        if any(known.address == address for known in statuses):
            continue
        statuses.append(
            RecipientStatus(
                address=address,
                action=own.get("action", ""),
                status=own.get("status", ""),
                diagnostic=own.get("diagnostic-code", "")[:500],
            )
        )
    statuses = [
        RecipientStatus(
            address=entry.address,
            action=entry.action or fields.get("action", ""),
            status=entry.status or fields.get("status", ""),
            diagnostic=entry.diagnostic or fields.get("diagnostic-code", "")[:500],
        )
        for entry in statuses
    ]
    original: dict[str, str] = {}
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original = {k.lower(): str(v) for k, v in inner[0].items()}
            break
        if kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = decode_bytes(raw, "utf-8") if isinstance(raw, bytes) else ""
            original = {k.lower(): str(v) for k, v in email.message_from_string(text).items()}
            break
    ids = message_ids(original.get("message-id", ""))
    first = statuses[0] if statuses else None
    return DeliveryReport(
        recipients=[entry.address for entry in statuses],
        action=first.action if first else fields.get("action", ""),
        status=first.status if first else fields.get("status", ""),
        diagnostic=first.diagnostic if first else fields.get("diagnostic-code", "")[:500],
        original_message_id=ids[0] if ids else None,
        original_headers=original,
        statuses=statuses,
    )


def parse_mail(raw: bytes) -> ParsedMail:
    """Read one RFC 5322 message; broken parts become ``defects``, not exceptions."""
    if not raw.strip():
        raise MailUnreadable("the mail is empty")
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not message.keys():
        raise MailUnreadable("the mail has no header")
    defects = [type(defect).__name__ for defect in message.defects]
    headers = {key.lower(): _raw_header(message, key) for key in message}
    from_name, from_address = parseaddr(decode_words(headers.get("from", "")))
    if not from_address:
        from_name, from_address = parseaddr(headers.get("from", ""))
    to = [address for _name, address in getaddresses([headers.get("to", "")]) if address]
    ids = message_ids(headers.get("message-id", ""))
    text_plain: list[str] = []
    text_html: list[str] = []
    attachments: list[ParsedAttachment] = []
    report = None
    if message.get_content_type() == "multipart/report":
        report = _report_of(message)
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "text/rfc822-headers"):
            continue
        try:
            data = part.get_payload(decode=True)
        except (ValueError, AssertionError, LookupError):
            defects.append(f"undecodable part {index} ({kind})")
            continue
        if not isinstance(data, bytes):
            continue
        if not _is_attachment(part):
            body = decode_bytes(data, part.get_content_charset())
            (text_html if kind == "text/html" else text_plain).append(body)
            continue
        content_id = part.get("content-id")
        disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
        attachments.append(
            ParsedAttachment(
                name=_part_name(part, len(attachments) + 1),
                content_type=kind,
                data=data,
                inline=disposition == "inline" or content_id is not None,
                content_id=content_id.strip().strip("<>") if content_id else None,
            )
        )
    from_html = not any(t.strip() for t in text_plain) and bool(text_html)
    text = _html_to_text("\n".join(text_html)) if from_html else "\n\n".join(text_plain).strip()
    return ParsedMail(
        message_id=ids[0] if ids else None,
        subject=decode_words(headers.get("subject", "")),
        from_name=from_name,
        from_address=from_address.strip().lower(),
        to=to,
        in_reply_to=message_ids(headers.get("in-reply-to", "")),
        references=message_ids(headers.get("references", "")),
        headers=headers,
        text=text.replace("\r\n", "\n"),
        from_html=from_html,
        attachments=attachments,
        report=report,
        content_type=message.get_content_type(),
        defects=defects,
    )
