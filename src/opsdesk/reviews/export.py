"""Exports of a post-incident review: Markdown and HTML (Jinja templates), PDF (fpdf2, the
``pdf`` extra) and DOCX (python-docx, the ``docx`` extra), all from one ``Report``.

The report follows the official incident report (seed 004): title block with approvals,
description, time summary table, client impact, resolution, what worked well, what did
not, recommendations, action items, then the incident's timeline from its history.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from opsdesk.incidents.fields import HISTORY_ACTION_LABELS, STATUS_LABELS, Status
from opsdesk.reviews import time_summary
from opsdesk.reviews.pir_service import ReviewBundle

TEMPLATES = Path(__file__).parent / "templates"
# Timeline comments are cut here: the report is read, not searched.
TIMELINE_COMMENT_MAX = 400


class ExportFormat(StrEnum):
    MD = "md"
    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"


CONTENT_TYPES = {
    ExportFormat.MD: "text/markdown; charset=utf-8",
    ExportFormat.HTML: "text/html; charset=utf-8",
    ExportFormat.PDF: "application/pdf",
    ExportFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# format → (module that must be importable, extra that installs it)
NEEDS = {ExportFormat.PDF: ("fpdf", "pdf"), ExportFormat.DOCX: ("docx", "docx")}

SECTION_HEADINGS = (
    ("description", "Incident Description"),
    ("time_summary", "Time Summary"),
    ("client_impact", "Client Impact"),
    ("resolution", "Incident Resolution"),
    ("worked_well", "What Worked Well"),
    ("did_not_work", "What Didn't Work Well"),
    ("recommendations", "Recommendations"),
    ("action_items", "Post-Incident Action Items"),
    ("timeline", "Incident Timeline"),
)
HEADINGS = dict(SECTION_HEADINGS)


class ExportUnavailable(Exception):
    """The format's library is not installed."""

    def __init__(self, fmt: ExportFormat, extra: str) -> None:
        super().__init__(
            f"format {fmt}: export needs the '{extra}' extra; "
            f"install it with: pip install 'opsdesk[{extra}]'"
        )
        self.format = fmt
        self.extra = extra


def available(fmt: ExportFormat) -> bool:
    need = NEEDS.get(fmt)
    return need is None or importlib.util.find_spec(need[0]) is not None


def check_available(fmt: ExportFormat) -> None:
    if not available(fmt):
        raise ExportUnavailable(fmt, NEEDS[fmt][1])


@dataclass(frozen=True)
class TimeRow:
    label: str
    time: str
    date: str
    source: str
    note: str


@dataclass(frozen=True)
class ItemRow:
    number: int
    action: str
    responsibility: str
    priority: str
    due: str
    task: str


@dataclass(frozen=True)
class TimelineRow:
    at: str
    what: str
    who: str
    comment: str


@dataclass(frozen=True)
class Report:
    """Everything an export shows, as plain text."""

    review_id: int
    heading: str
    title: str
    facts: list[tuple[str, str]]
    approvals: list[tuple[str, str]]
    sections: dict[str, str]
    times: list[TimeRow]
    impact: str
    items: list[ItemRow]
    timeline: list[TimelineRow]
    generated: str

    def file_name(self, fmt: ExportFormat) -> str:
        return f"pir-{self.facts[0][1]}.{fmt}"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _status(value: str) -> str:
    try:
        return STATUS_LABELS[Status(value)].en
    except ValueError:
        return value


def build_report(data: ReviewBundle, *, now: datetime) -> Report:
    review, incident, names = data.review, data.incident, data.names

    def who(user_id: str | None) -> str:
        return names.get(user_id, user_id) if user_id else "—"

    times: list[TimeRow] = []
    values: dict[str, datetime | None] = {}
    for key in time_summary.KEYS:
        entry = review.time_summary.get(key) or {}
        value = _parse(entry.get("value"))
        values[key] = value
        action = str(entry.get("source_action") or "")
        named = HISTORY_ACTION_LABELS[action].en if action in HISTORY_ACTION_LABELS else action
        source = (
            f"history #{entry['source_id']} ({named})"
            if entry.get("source_id")
            else "not in the history"
        )
        edited = entry.get("edited") or {}
        note = f"edited by {who(edited.get('by'))}: {edited.get('reason', '')}" if edited else ""
        times.append(
            TimeRow(
                label=time_summary.LABELS[key],
                time=value.strftime("%H:%M UTC") if value else "—",
                date=value.strftime("%Y-%m-%d") if value else "—",
                source=source,
                note=note,
            )
        )
    duration = time_summary.impact(values["failure_occurred"], values["services_restored"])
    items = [
        ItemRow(
            number=item.position,
            action=item.action,
            responsibility=", ".join(
                part for part in (item.responsibility, who(item.assignee_id)) if part != "—"
            )
            or "—",
            priority=item.priority,
            due=item.due_at.strftime("%Y-%m-%d") if item.due_at else "—",
            task=(
                f"#{item.task_id} {data.task_status.get(item.task_id, 'unknown')}"
                if item.task_id
                else "—"
            ),
        )
        for item in data.items
    ]
    timeline = [
        TimelineRow(
            at=_when(row.start_time),
            what=(
                HISTORY_ACTION_LABELS[row.action].en
                if row.action in HISTORY_ACTION_LABELS
                else row.action
            ),
            who=who(row.operator_id) if row.operator_id else "system",
            comment=(row.comment or "")[:TIMELINE_COMMENT_MAX],
        )
        for row in data.incident_history
        if not row.internal
    ]
    facts = [
        ("Incident", incident.number),
        ("Level", data.level_label + (" (major incident)" if incident.major else "")),
        ("Incident status", _status(incident.status)),
        ("Opened", _when(incident.created_at)),
        ("Resolved", _when(incident.resolved_at)),
        ("Review status", data.status_label),
        ("Author", who(review.author_id)),
    ]

    def signed(user_id: str | None, at: datetime | None) -> str:
        return f"{who(user_id)}, {_when(at)}" if user_id and at else "pending"

    approvals = [
        ("Submitted", _when(review.submitted_at) if review.submitted_at else "not yet"),
        ("Reviewed by the assistant director", signed(review.reviewed_by, review.reviewed_at)),
        ("Approved by the director", signed(review.approved_by, review.approved_at)),
    ]
    return Report(
        review_id=review.id,
        heading=f"Incident Report \N{EN DASH} {incident.created_at.strftime('%d/%m/%Y')}",
        title=review.title,
        facts=facts,
        approvals=approvals,
        sections={
            "description": review.description,
            "client_impact": review.client_impact,
            "resolution": review.resolution,
            "worked_well": review.worked_well,
            "did_not_work": review.did_not_work,
            "recommendations": review.recommendations,
        },
        times=times,
        impact=time_summary.describe(duration),
        items=items,
        timeline=timeline,
        generated=_when(now),
    )


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _environment() -> Environment:
    # Escaped by name: pir.html.j2 is HTML, pir.md.j2 is Markdown (escaped by the cell filter).
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html.j2"], default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    return env


def to_markdown(report: Report) -> str:
    return _environment().get_template("pir.md.j2").render(r=report, headings=HEADINGS)


def to_html(report: Report) -> str:
    return _environment().get_template("pir.html.j2").render(r=report, headings=HEADINGS)


def render(report: Report, fmt: ExportFormat, *, font: str = "") -> bytes:
    """The export as bytes; ``ExportUnavailable`` when its extra is not installed."""
    check_available(fmt)
    if fmt is ExportFormat.MD:
        return to_markdown(report).encode()
    if fmt is ExportFormat.HTML:
        return to_html(report).encode()
    if fmt is ExportFormat.PDF:
        from opsdesk.reviews.export_pdf import to_pdf

        return to_pdf(report, headings=HEADINGS, font=font)
    from opsdesk.reviews.export_docx import to_docx

    return to_docx(report, headings=HEADINGS)
