"""Bulk actions on selected incidents: each row through the same service call as one by one.

Every row runs in its own transaction, so one refusal undoes nothing else, and every row
answers with what happened to it: done, or refused and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from opsdesk.auth.roles import Caller
from opsdesk.collaboration import service as collaboration
from opsdesk.collaboration import watchers
from opsdesk.collaboration.schemas import ConversationCreate
from opsdesk.core.database import Database
from opsdesk.core.errors import Forbidden, OpsdeskError, ValidationFailed
from opsdesk.incidents import actions
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.params import parse_params
from opsdesk.incidents.rules import IncidentRules
from opsdesk.relations import merging

MAX_ROWS = 100


class BulkAction(StrEnum):
    ACCEPT = "accept"
    FORWARD = "forward"
    CHANGE_LEVEL = "change_level"
    NOTE = "note"
    WATCH = "watch"
    MERGE = "merge"


BULK_LABELS: dict[BulkAction, str] = {
    BulkAction.ACCEPT: "Accept",
    BulkAction.FORWARD: "Forward",
    BulkAction.CHANGE_LEVEL: "Change level",
    BulkAction.NOTE: "Add internal note",
    BulkAction.WATCH: "Watch",
    BulkAction.MERGE: "Merge (into the primary)",
}
_LIFECYCLE = {
    BulkAction.ACCEPT: Action.ACCEPT,
    BulkAction.FORWARD: Action.FORWARD,
    BulkAction.CHANGE_LEVEL: Action.CHANGE_LEVEL,
}


@dataclass(frozen=True)
class RowResult:
    number: str
    done: bool
    message: str


def parse_bulk_action(raw: str) -> BulkAction:
    try:
        return BulkAction(raw.strip())
    except ValueError:
        raise ValidationFailed(
            f"action: choose one of {', '.join(a.value for a in BulkAction)}", field="action"
        ) from None


def _numbers(raw: list[str]) -> list[str]:
    numbers = list(dict.fromkeys(n.strip() for n in raw if n.strip()))
    if not numbers:
        raise ValidationFailed("numbers: select at least one incident", field="numbers")
    if len(numbers) > MAX_ROWS:
        raise ValidationFailed(f"numbers: at most {MAX_ROWS} incidents at once", field="numbers")
    return numbers


def _checked_params(action: BulkAction, params: dict[str, Any]) -> Any:
    """Parameters are the same for every row: a mistake in them refuses the whole batch."""
    try:
        if action in _LIFECYCLE:
            return parse_params(_LIFECYCLE[action], params)
        if action is BulkAction.NOTE:
            return ConversationCreate(body=str(params.get("note", "")), internal=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "note"
        field = "note" if action is BulkAction.NOTE else field
        raise ValidationFailed(f"{field}: {first['msg']}", field=field) from None
    return None


async def run_bulk(
    *,
    db: Database,
    caller: Caller,
    numbers: list[str],
    action: BulkAction,
    params: dict[str, Any],
    now: datetime,
    rules: IncidentRules,
) -> list[RowResult]:
    """Apply ``action`` to each incident in turn; one result per incident, in order."""
    if not caller.is_staff:
        raise Forbidden("bulk actions are for staff", field="caller")
    chosen = _numbers(numbers)
    if action is BulkAction.MERGE:
        return await _merge(
            db=db, caller=caller, numbers=chosen, params=params, now=now, rules=rules
        )
    checked = _checked_params(action, params)
    results: list[RowResult] = []
    for number in chosen:
        try:
            async with db.write() as session:
                if action in _LIFECYCLE:
                    incident = await actions.take_action(
                        session=session,
                        caller=caller,
                        number=number,
                        action=_LIFECYCLE[action],
                        params=checked,
                        now=now,
                        rules=rules,
                    )
                    message = f"done: now {actions.phase_label(incident)}"
                elif action is BulkAction.NOTE:
                    await collaboration.add_conversation(
                        session=session, caller=caller, number=number, data=checked, now=now
                    )
                    message = "internal note added"
                else:
                    _row, new = await watchers.watch(
                        session=session, caller=caller, number=number, now=now
                    )
                    message = "now watching" if new else "already watching"
        except OpsdeskError as exc:
            results.append(RowResult(number, False, exc.message))
        else:
            results.append(RowResult(number, True, message))
    return results


async def _merge(
    *,
    db: Database,
    caller: Caller,
    numbers: list[str],
    params: dict[str, Any],
    now: datetime,
    rules: IncidentRules,
) -> list[RowResult]:
    """Merge the selected incidents into one of them (``params["primary"]``, by default the
    first selected), in one transaction: all merge or none, each row says which."""
    primary = str(params.get("primary") or "").strip() or numbers[0]
    if primary not in numbers:
        raise ValidationFailed(
            f"primary: {primary} is not among the selected incidents; pick one of them",
            field="primary",
        )
    secondaries = [number for number in numbers if number != primary]
    if not secondaries:
        raise ValidationFailed("numbers: select at least two incidents to merge", field="numbers")
    try:
        async with db.write() as session:
            await merging.merge(
                session=session,
                caller=caller,
                primary_number=primary,
                secondary_numbers=secondaries,
                now=now,
                rules=rules,
            )
    except OpsdeskError as exc:
        return [RowResult(number, False, exc.message) for number in numbers]
    return [RowResult(primary, True, f"primary: {len(secondaries)} merged into it")] + [
        RowResult(number, True, f"merged into {primary}") for number in secondaries
    ]
