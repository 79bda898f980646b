"""Mail templates: the events, their default texts, a sandboxed renderer and save-time checks.

Administrators edit templates, so they run in Jinja2's immutable sandbox (no attribute
tricks, no mutation of the context) with ``StrictUndefined`` (a misspelt variable is an
error, never an empty string). The HTML part is autoescaped; subject and text are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from opsdesk.core.errors import ValidationFailed

EVENTS = (
    "created",
    "assigned",
    "accepted",
    "public_reply",
    "resolved",
    "reopened",
    "completed",
    "sla_warning",
    "sla_breach",
    "confirm_reminder",
    "work_assigned",
    "work_due_soon",
    "work_overdue",
    "review_submitted",
    "review_reviewed",
    "review_returned",
    "review_approved",
    "major_paged",
    "major_update_due",
)
EVENT_LABELS = {
    "created": "Incident recorded",
    "assigned": "Incident assigned",
    "accepted": "Incident accepted",
    "public_reply": "Public reply",
    "resolved": "Incident resolved",
    "reopened": "Incident reopened",
    "completed": "Incident closed",
    "sla_warning": "SLA warning",
    "sla_breach": "SLA breached",
    "confirm_reminder": "Please confirm the resolution",
    "work_assigned": "Task or work order assigned",
    "work_due_soon": "Task due soon",
    "work_overdue": "Task or work order overdue",
    "review_submitted": "Post-incident review submitted",
    "review_reviewed": "Post-incident review reviewed",
    "review_returned": "Post-incident review returned",
    "review_approved": "Post-incident review approved",
    "major_paged": "Paged to a major incident's response team",
    "major_update_due": "Major incident: an update is due",
}
PARTS = ("subject", "text_body", "html_body")
_SUFFIX = {"subject": "subject", "text_body": "txt", "html_body": "html"}

# Every name a template may use, with an example value: the save-time check renders each
# template with these so that ``incident.titel`` fails when saved, not when an incident
# is created.
SAMPLE_CONTEXT: dict[str, Any] = {
    "incident": {
        "number": "INC20260302100000001",
        "title": "Mail server does not answer",
        "description": "Since 09:40 no mail is delivered.",
        "status": "INCIDENT_STATUS_ACKNOWLEDGED",
        "status_label": "In Progress",
        "level": "level_20",
        "level_label": "P2",
        "workgroup": "service-desk",
        "assignee_name": "Tess Technician",
        "reporter_name": "Una User",
        "solution": "Restarted the mail relay.",
        "cause": "Disk full",
        "created_at": "2026-03-02T10:00:00+00:00",
        "url": "https://opsdesk.example/incidents/INC20260302100000001",
    },
    "event": "resolved",
    "event_label": "Incident resolved",
    "actor_name": "Tess Technician",
    "recipient_name": "Una User",
    "recipient_kind": "reporter",
    "comment": "We restarted the relay; mail flows again.",
    "sla": {"target": "resolution", "due_at": "2026-03-02T14:00:00+00:00"},
    # The task or work order of a work_* event (empty for the others).
    "work": {
        "kind": "task",
        "kind_label": "Task",
        "id": 3,
        "title": "Check the core switch",
        "description": "Port 12 flaps.",
        "status": "open",
        "workgroup": "network",
        "assignee_name": "Tess Technician",
        "due_at": "2026-03-02T16:00:00+00:00",
        "location": "",
        "url": "https://opsdesk.example/incidents/INC20260302100000001#work",
    },
    # The major incident of a major_* event (reviews/major_team.py and major_cadence.py;
    # empty for the others).
    "major": {
        "role": "technical_lead",
        "role_label": "Technical lead",
        "manager_name": "Ivy Manager",
        "reason": "level P1 declares a major incident",
        "war_room_url": "https://opsdesk.example/war-rooms/1",
        "war_room_status": "Fault delimitation",
        "minutes": 15,
        "last_update_at": "2026-03-02T10:15:00+00:00",
    },
    "extra": {},
}
VARIABLES = frozenset(SAMPLE_CONTEXT)


@dataclass(frozen=True)
class MailTemplate:
    subject: str
    text_body: str
    html_body: str


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@cache
def _environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True
    )


@cache
def default_template(event: str) -> MailTemplate:
    """The template shipped in ``notify/defaults/`` for ``event``."""
    if event not in EVENTS:
        raise ValidationFailed(f"event: unknown event {event!r}", field="event")
    folder = resources.files("opsdesk.notify") / "defaults"
    parts = {
        part: (folder / f"{event}.{suffix}").read_text(encoding="utf-8")
        for part, suffix in _SUFFIX.items()
    }
    return MailTemplate(
        subject=parts["subject"].strip(),
        text_body=parts["text_body"],
        html_body=parts["html_body"],
    )


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    # Compiling costs ~10 ms a template; a mail to each of a group's members reuses it.
    return _environment(html=html).from_string(source)


def _render(source: str, context: Mapping[str, Any], *, html: bool) -> str:
    return _compiled(source, html).render(**context)


def validate_template(template: MailTemplate) -> None:
    """Refuse a template that cannot be rendered; the error names the part at fault."""
    for part in PARTS:
        source: str = getattr(template, part)
        html = part == "html_body"
        if part == "subject" and not source.strip():
            raise ValidationFailed("subject: must not be empty", field=part)
        environment = _environment(html=html)
        try:
            unknown = meta.find_undeclared_variables(environment.parse(source)) - VARIABLES
        except TemplateSyntaxError as error:
            raise ValidationFailed(
                f"{part}: syntax error on line {error.lineno}: {error.message}", field=part
            ) from None
        if unknown:
            raise ValidationFailed(
                f"{part}: unknown variable {sorted(unknown)[0]!r}; "
                f"known: {', '.join(sorted(VARIABLES))}",
                field=part,
            )
        try:
            _render(source, SAMPLE_CONTEXT, html=html)
        except TemplateError as error:
            raise ValidationFailed(f"{part}: {error.message or error}", field=part) from None


def render(template: MailTemplate, context: Mapping[str, Any]) -> RenderedMail:
    """The three parts for ``context``; the subject is one line whatever the template does."""
    subject = " ".join(_render(template.subject, context, html=False).split())
    return RenderedMail(
        subject=subject,
        text=_render(template.text_body, context, html=False),
        html=_render(template.html_body, context, html=True),
    )
