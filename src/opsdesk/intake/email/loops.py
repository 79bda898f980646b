"""Which mail must never create, reopen or answer anything: auto-replies, bounces, our own.

Pure rules over a parsed mail (RFC 3834, RFC 3464 and what Exchange, Gmail and the common
MTAs actually send). The first rule that matches names the reason the operator view shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from opsdesk.intake.email.parser import DeliveryReport, ParsedMail, RecipientStatus

ROBOT_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
# The Message-IDs notify/mail.py and the polite refusal give the mails we send.
OUR_ID_PREFIXES = ("<incident-", "<refusal.")
QUIET_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


class Kind(StrEnum):
    PERSON = "person"  # written by someone: may create, reply, reopen
    OWN = "own"  # our own notification came back
    BOUNCE = "bounce"  # a delivery status notification
    AUTOMATIC = "automatic"  # out-of-office, auto-reply, list or bulk mail


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: str = ""


def _local_part(address: str) -> str:
    return address.rpartition("@")[0].lower() if "@" in address else address.lower()


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def classify(mail: ParsedMail, *, our_address: str, our_domain: str) -> Verdict:
    """What kind of mail this is; anything but ``PERSON`` is only recorded, never acted on."""
    our_address = our_address.lower()
    x_loops = mail.header("x-loop").lower()
    if our_address and our_address in x_loops:
        return Verdict(Kind.OWN, f"X-Loop names our address {our_address}")
    message_id = (mail.message_id or "").lower()
    ours = message_id.startswith(OUR_ID_PREFIXES) and message_id.endswith(f"@{our_domain}>")
    if ours or (message_id.endswith(f"@{our_domain}>") and mail.header("x-opsdesk-event")):
        return Verdict(Kind.OWN, f"Message-ID {mail.message_id} is one of ours")
    if mail.from_address and mail.from_address == our_address:
        return Verdict(Kind.OWN, f"sent from our own address {our_address}")
    if mail.content_type == "multipart/report" or mail.report is not None:
        return Verdict(Kind.BOUNCE, "a delivery status notification (multipart/report)")
    sender_local = _local_part(mail.from_address)
    if sender_local in ROBOT_LOCAL_PARTS:
        return Verdict(Kind.BOUNCE, f"sent by {mail.from_address}")
    return_path = mail.header("return-path").strip()
    if return_path.replace(" ", "") == "<>":
        return Verdict(Kind.AUTOMATIC, "Return-Path: <> (a bounce or an automatic reply)")
    auto_submitted = mail.header("auto-submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return Verdict(Kind.AUTOMATIC, f"Auto-Submitted: {auto_submitted}")
    precedence = mail.header("precedence").strip().lower()
    if precedence in QUIET_PRECEDENCE:
        return Verdict(Kind.AUTOMATIC, f"Precedence: {precedence}")
    if mail.header("x-auto-response-suppress"):
        suppress = mail.header("x-auto-response-suppress")
        return Verdict(Kind.AUTOMATIC, f"X-Auto-Response-Suppress: {suppress[:60]}")
    if mail.header("x-autoreply") or mail.header("x-autorespond"):
        return Verdict(Kind.AUTOMATIC, "X-Autoreply header")
    if mail.header("list-id") or mail.header("list-unsubscribe"):
        return Verdict(Kind.AUTOMATIC, "mailing list mail (List-Id)")
    if _domain(mail.from_address) == our_domain and sender_local in ("noreply", "no-reply"):
        return Verdict(Kind.OWN, f"sent from {mail.from_address}")
    return Verdict(Kind.PERSON)


def permanent_failure(report: RecipientStatus | DeliveryReport) -> bool:
    """Whether one recipient's part of a delivery report says the mail can never be
    delivered to it (RFC 3464 ``Action: failed``, or an RFC 3463 status class 5); a
    ``delayed`` 4.x.x one, or one naming no failure at all, is not: the address may work
    tomorrow. Given a whole report, its first recipient's fields decide."""
    action = report.action.strip().lower()
    status = report.status.strip()
    return action == "failed" or status.startswith("5.")
