"""Which incident a mail answers, and the new text of a reply without its quoted history.

Pure. A reply is matched, in this order, by the ``[#NUMBER]`` tag our notifications put
in the subject, then by the Message-IDs in ``In-Reply-To`` and ``References``: our own
(``<incident-NUMBER…@our domain>``, see ``notify/mail.py``) are read here; the ones of
mails we received are looked up by the service.
"""

from __future__ import annotations

import re

SUBJECT_TAG = re.compile(r"\[#(IM\d{24})\]")
_OUR_ID = re.compile(r"^<incident-(IM\d{24})(?:\.[^@>]*)?@([^>]+)>$")
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fw|fwd|wg|tr|r|rif|回复|答复|転送)\s*:\s*)+", re.I)

# Where the quoted history of a reply starts, as the common mail programs write it.
_QUOTE_HEADERS = [
    re.compile(r"^On .{1,300}wrote:\s*$"),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^Am .{1,300}schrieb .{0,200}:\s*$"),
    re.compile(r"^Le .{1,300}a écrit\s*:\s*$"),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}\s*$", re.I),  # Outlook (plain)
    re.compile(r"^_{10,}\s*$"),  # Outlook (HTML made text)
    re.compile(r"^From:\s.+$"),  # Outlook's header block of the quoted mail
    re.compile(r"^\*?From:\*?\s.+$"),
    re.compile(r"^-{2,}\s*Forwarded message\s*-{2,}\s*$", re.I),
]
_SIGNATURE = re.compile(r"^(-- |--|Sent from my .{1,40}|Von meinem .{1,40} gesendet)$")


def number_in_subject(subject: str) -> str | None:
    match = SUBJECT_TAG.search(subject)
    return match.group(1) if match else None


def numbers_in_our_ids(message_ids: list[str], our_domain: str) -> list[str]:
    """Incident numbers named by Message-IDs we sent, most recent reference first."""
    found: list[str] = []
    for message_id in reversed(message_ids):
        match = _OUR_ID.match(message_id)
        if match and match.group(2).lower() == our_domain.lower() and match.group(1) not in found:
            found.append(match.group(1))
    return found


def clean_subject(subject: str) -> str:
    """The subject as an incident title: no ``Re:``/``Fwd:`` and no ``[#NUMBER]`` tag."""
    text = SUBJECT_TAG.sub("", subject)
    text = _REPLY_PREFIX.sub("", text)
    return " ".join(text.split())


def strip_quoted(text: str) -> str:
    """The new part of a reply: stops at the quoted history, drops ``>`` lines and a signature."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if any(pattern.match(stripped) for pattern in _QUOTE_HEADERS):
            break
        if _SIGNATURE.match(line.rstrip("\r")) or _SIGNATURE.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    new = "\n".join(kept).strip()
    return new or text.strip()
