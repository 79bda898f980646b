"""The end user's view of an incident: a conversation in plain words, none of the desk's
internals (rules, SLA, versions, field audits), and the one question that matters to them
when a resolution awaits: is it fixed?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.web.common import _name
from opsdesk.web.incident_view import Names


@dataclass(frozen=True)
class Message:
    """One entry of the conversation; ``side`` is ``requester``, ``desk`` or ``event``."""

    time: datetime
    who: str
    side: str
    text: str
    body: str


def _changed_to(row: IncidentHistory, field: str) -> str:
    for change in row.changes:
        if change.get("field") == field and change.get("new"):
            return str(change["new"])
    return ""


def _message(row: IncidentHistory, incident: Incident, names: Names) -> Message | None:
    """The row in the requester's words, or None for what is the desk's own business."""
    who = _name(names.users, row.operator_id) if row.operator_id else "opsdesk"
    mine = row.operator_id == incident.reporter_id
    side = "requester" if mine else "desk"
    action = row.action
    if action == HistoryAction.CREATE:
        return Message(row.start_time, who, side, "Reported the problem", "")
    if action == HistoryAction.REPLY:
        return Message(row.start_time, who, side, "", row.comment)
    if action == HistoryAction.ACCEPT:
        return Message(row.start_time, who, "desk", "We are working on it", "")
    if action == HistoryAction.RESUME:
        return Message(row.start_time, who, "desk", "We are working on it again", "")
    if action == HistoryAction.APPROVE and _changed_to(row, "sub_status") == "paused":
        return Message(row.start_time, who, "desk", "On hold for now", "")
    if action == HistoryAction.REJECT:
        return Message(row.start_time, who, "desk", "We could not take this on", row.comment)
    if action == HistoryAction.RESOLVE:
        solution = _changed_to(row, "solution") or incident.solution or ""
        return Message(row.start_time, who, "desk", "Resolved", solution)
    if action == HistoryAction.CONFIRM:
        if row.status == Status.COMPLETED:
            return Message(row.start_time, who, side, "Confirmed: it is fixed", row.comment)
        return Message(row.start_time, who, side, "Still broken", row.comment)
    if action == HistoryAction.REOPEN:
        return Message(row.start_time, who, side, "Reopened", row.comment)
    if action in (HistoryAction.CLOSE, HistoryAction.AUTO_COMPLETE):
        return Message(row.start_time, who, "event", "Closed", "")
    if action == HistoryAction.WITHDRAW:
        return Message(row.start_time, who, side, "Withdrawn", row.comment)
    return None


def conversation(
    incident: Incident, history: Sequence[IncidentHistory], names: Names
) -> list[Message]:
    """The requester's timeline, oldest first, as a conversation reads."""
    return [m for row in history if (m := _message(row, incident, names)) is not None]


def portal_context(
    incident: Incident,
    history: Sequence[IncidentHistory],
    names: Names,
    available: Sequence[Action],
) -> dict[str, Any]:
    return {
        "conversation": conversation(incident, history, names),
        "awaiting_answer": Action.CONFIRM in available,
        "can_withdraw": Action.WITHDRAW in available,
        "can_reopen": Action.REOPEN in available and not _withdrawn(history),
        "can_close": Action.CLOSE in available,
        "plain_status": _plain_status(incident),
        "handler": _name(names.users, incident.assignee_id) if incident.assignee_id else "",
    }


def _withdrawn(history: Sequence[IncidentHistory]) -> bool:
    ends = [row.action for row in history if row.action in _ENDS]
    return bool(ends) and ends[-1] == HistoryAction.WITHDRAW


_ENDS = frozenset({HistoryAction.WITHDRAW, HistoryAction.CLOSE, HistoryAction.REOPEN})


def _plain_status(incident: Incident) -> str:
    status = Status(incident.status)
    if status is Status.TRIGGERED:
        return "Received: waiting for someone to pick it up"
    if status is Status.ACKNOWLEDGED:
        return "We are working on it"
    if status is Status.RESOLVED:
        return "Resolved: please tell us if it is fixed"
    if status is Status.REJECTED:
        return "Not taken on"
    if status is Status.COMPLETED:
        return "Closed"
    return "Draft"
