"""The incident page's words: SLA rows, names instead of ids, errors without parameter names."""

from __future__ import annotations

from datetime import UTC, datetime

from opsdesk.core.errors import Conflict, Forbidden, ValidationFailed
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import IncidentHistory
from opsdesk.web.incident_view import Names, history_view, one_click, plain_message

ADA = "0123456789abcdef0123456789abcdef"
NAMES = Names({}, {ADA: "Ada Admin"})
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def row(action: str, changes: list[dict[str, object]], comment: str = "") -> IncidentHistory:
    return IncidentHistory(
        action=action,
        operator_id=None,
        status=Status.ACKNOWLEDGED.value,
        start_time=NOW,
        comment=comment,
        changes=changes,
        internal=False,
    )


def test_sla_rows_read_as_a_sentence_not_keys() -> None:
    breach = history_view(
        row(
            HistoryAction.SLA_BREACH,
            [
                {"field": "sla_target", "old": None, "new": "response"},
                {"field": "sla_percent", "old": None, "new": 104.2},
            ],
        ),
        NAMES,
    )
    assert breach.action == "SLA response breached"
    assert breach.changes == [] and breach.operator == "System"
    warning = history_view(
        row(
            HistoryAction.SLA_WARNING,
            [
                {"field": "sla_target", "old": None, "new": "resolution"},
                {"field": "sla_percent", "old": None, "new": 80},
            ],
        ),
        NAMES,
    )
    assert warning.action == "SLA resolution warning at 80 %"


def test_user_ids_in_assignment_notes_become_names() -> None:
    assigned = history_view(
        row(
            HistoryAction.ASSIGN,
            [{"field": "assignment_note", "old": None, "new": f"rule #2 'VIP': to {ADA}"}],
            comment=f"rule #2 'VIP': to {ADA}",
        ),
        NAMES,
    )
    assert assigned.comment == "rule #2 'VIP': to Ada Admin"
    assert assigned.changes[0].field == "Assigned because"
    assert assigned.changes[0].new == "rule #2 'VIP': to Ada Admin"
    assert NAMES.value("assignment_note", f"to {ADA}") == "to Ada Admin"


def test_errors_speak_the_users_words() -> None:
    forward = ValidationFailed(
        "assignee_id: forward to a person (assignee_id), a shift (assignee_scene + "
        "assignee_role) or a workgroup (workgroup)",
        field="assignee_id",
    )
    assert plain_message(forward) == "Choose where it goes: a person, a workgroup or a shift."
    missing = ValidationFailed(
        "cause: is required for resolve; solution: is required for resolve",
        problems=[
            {"field": "cause", "message": "is required for resolve"},
            {"field": "solution", "message": "is required for resolve"},
        ],
    )
    assert plain_message(missing) == "Cause is required. Solution is required."
    assert plain_message(ValidationFailed("until: must be in the future")) == (
        "Planned end: must be in the future."
    )
    refused = Forbidden("accept: a end_user may not take this action on this incident")
    assert plain_message(refused, Action.ACCEPT) == (
        "Your role does not allow you to accept this incident."
    )
    moved = Conflict("accept is not allowed while the incident is In Progress (in_progress)")
    assert "no longer possible" in plain_message(moved, Action.ACCEPT)


def test_one_click_actions_are_those_without_required_input() -> None:
    assert one_click(Action.ACCEPT) and one_click(Action.WITHDRAW) and one_click(Action.CLOSE)
    assert not one_click(Action.REJECT) and not one_click(Action.RESOLVE)
    assert not one_click(Action.FORWARD) and not one_click(Action.CONFIRM)
