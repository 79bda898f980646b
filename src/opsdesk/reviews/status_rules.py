"""Status-page rules (pure): update states and their order, an application's public state
from its open public incidents, and the placeholders of the stakeholder message templates."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class UpdateState(StrEnum):
    """Where a publicly communicated incident stands (the vocabulary of public status pages)."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


STATE_LABELS: dict[UpdateState, str] = {
    UpdateState.INVESTIGATING: "Investigating",
    UpdateState.IDENTIFIED: "Identified",
    UpdateState.MONITORING: "Monitoring",
    UpdateState.RESOLVED: "Resolved",
}


class ComponentState(StrEnum):
    """An application's state on the status page, best first."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"


COMPONENT_LABELS: dict[ComponentState, str] = {
    ComponentState.OPERATIONAL: "Operational",
    ComponentState.DEGRADED: "Degraded performance",
    ComponentState.PARTIAL_OUTAGE: "Partial outage",
    ComponentState.MAJOR_OUTAGE: "Major outage",
}
_SEVERITY = list(ComponentState)


class AudienceKind(StrEnum):
    INTERNAL = "internal"
    CUSTOMERS = "customers"


def check_transition(previous: UpdateState | None, new: UpdateState) -> str | None:
    """Why ``new`` may not follow ``previous`` (None: it may).

    Any state may start the communication or follow another open state (an incident may go
    back from monitoring to investigating); once resolved, only a new ``investigating``
    reopens it, and ``resolved`` is never posted twice in a row.
    """
    if previous is UpdateState.RESOLVED and new is not UpdateState.INVESTIGATING:
        return (
            "the incident was already communicated as resolved; post 'investigating' to reopen it"
        )
    return None


# The stored level keys (``level_10`` is P1) and their P-names.
_P1 = ("P1", "level_10")
_HIGH = ("P1", "P2", "level_10", "level_20")


def impact_of(level: str, service_interrupted: bool) -> ComponentState:
    """What one open incident does to its application: P1 with the service interrupted is a
    major outage; P1/P2 or an interruption a partial outage; anything else degraded."""
    high = level in _HIGH
    if level in _P1 and service_interrupted:
        return ComponentState.MAJOR_OUTAGE
    if high or service_interrupted:
        return ComponentState.PARTIAL_OUTAGE
    return ComponentState.DEGRADED


def component_state(
    impacts: Iterable[ComponentState], override: ComponentState | None = None
) -> ComponentState:
    """The worst impact of the open public incidents, unless staff set an override."""
    if override is not None:
        return override
    worst = ComponentState.OPERATIONAL
    for impact in impacts:
        if _SEVERITY.index(impact) > _SEVERITY.index(worst):
            worst = impact
    return worst


# Templates ------------------------------------------------------------------------------

PLACEHOLDERS = ("title", "application", "state", "message", "status_url")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class MessageTemplate:
    """The mail of one state (``subject``, ``body``) and the public text the composer starts
    from (``message``, placed in the body at ``{message}``)."""

    subject: str
    body: str
    message: str


DEFAULT_TEMPLATES: dict[UpdateState, MessageTemplate] = {
    UpdateState.INVESTIGATING: MessageTemplate(
        subject="[{state}] {title}",
        body=(
            "We are investigating a problem affecting {application}.\n\n{message}\n\n"
            "We will post the next update as soon as we know more: {status_url}"
        ),
        message="We are investigating reports of problems with {application}.",
    ),
    UpdateState.IDENTIFIED: MessageTemplate(
        subject="[{state}] {title}",
        body=(
            "We have identified the cause of the problem affecting {application} and are "
            "working on a fix.\n\n{message}\n\nFollow the progress: {status_url}"
        ),
        message="The cause has been identified and a fix is being implemented.",
    ),
    UpdateState.MONITORING: MessageTemplate(
        subject="[{state}] {title}",
        body=(
            "A fix for the problem affecting {application} is in place and we are monitoring "
            "the results.\n\n{message}\n\nStatus: {status_url}"
        ),
        message="A fix has been implemented and we are monitoring the results.",
    ),
    UpdateState.RESOLVED: MessageTemplate(
        subject="[{state}] {title}",
        body=(
            "The problem affecting {application} has been resolved.\n\n{message}\n\n"
            "Thank you for your patience. Status: {status_url}"
        ),
        message="This incident has been resolved.",
    ),
}


def unknown_placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders in ``text`` that are not known."""
    return sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each known ``{name}`` replaced; other braces are left as they are."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s<>,;:\"()\[\]\\]+$")
EMAIL_MAX = 254


def normal_email(value: str) -> str | None:
    """The address in lower case, or None when it is not a plain ``name@domain.tld``."""
    address = value.strip().lower()
    if len(address) > EMAIL_MAX or not _EMAIL.match(address):
        return None
    return address
