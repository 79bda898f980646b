"""What decides an inbound mail's fate and the words for it: the deployment's ``MailRules``,
a stored mail's status, the outcome shown to administrators, and the result of one mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from opsdesk.core.settings import Settings
from opsdesk.incidents.attachments import attachments_dir
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.sweeper import incident_rules_from
from opsdesk.notify.mail import address_of, mail_domain


class MailStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    HELD = "held"
    FAILED = "failed"


class Outcome(StrEnum):
    CREATED = "created"
    THREADED = "threaded"
    REOPENED = "reopened"
    LINKED = "linked"  # a reply to a completed incident opened a new one, linked
    IGNORED_AUTO_REPLY = "ignored_auto_reply"
    IGNORED_OWN = "ignored_own"
    BOUNCE = "bounce"
    HELD_RATE_LIMIT = "held_rate_limit"
    REFUSED = "refused"
    FAILED_PARSE = "failed_parse"
    FAILED = "failed"


OUTCOME_LABELS = {
    Outcome.CREATED: "Created an incident",
    Outcome.THREADED: "Added to an incident",
    Outcome.REOPENED: "Reopened an incident",
    Outcome.LINKED: "New incident linked to a closed one",
    Outcome.IGNORED_AUTO_REPLY: "Ignored: automatic reply",
    Outcome.IGNORED_OWN: "Ignored: our own mail came back",
    Outcome.BOUNCE: "Bounce",
    Outcome.HELD_RATE_LIMIT: "Held: sender rate limit",
    Outcome.REFUSED: "Refused",
    Outcome.FAILED_PARSE: "Failed to parse",
    Outcome.FAILED: "Failed",
}


@dataclass(frozen=True)
class MailRules:
    """What decides an inbound mail's fate, from the deployment settings."""

    our_address: str
    our_domain: str
    unknown_senders: str = "create"
    reopen_on_reply: bool = True
    rate_limit: int = 20
    rate_window: timedelta = timedelta(minutes=10)
    incident_rules: IncidentRules = field(default_factory=IncidentRules)
    storage_dir: Path = Path("var/attachments")

    @classmethod
    def from_settings(cls, settings: Settings) -> MailRules:
        return cls(
            our_address=address_of(settings.mail_from).lower(),
            our_domain=mail_domain(settings.mail_from).lower(),
            unknown_senders=settings.mail_unknown_senders,
            reopen_on_reply=settings.mail_reopen_on_reply,
            rate_limit=settings.mail_rate_limit,
            rate_window=timedelta(minutes=settings.mail_rate_window_minutes),
            incident_rules=incident_rules_from(settings),
            storage_dir=attachments_dir(settings),
        )


@dataclass
class MailResult:
    outcome: Outcome
    reason: str = ""
    incident: Incident | None = None
    related_number: str | None = None
    conversation_id: int | None = None
    status: MailStatus = MailStatus.DONE
