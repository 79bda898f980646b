"""Action parameters, checked once for every door (API, COC, web forms, bulk): every
parameter at fault named in one answer, with what the incident itself still lacks."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.lifecycle import Action
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import ACTION_PARAMS, ActionParams


def parse_params(action: Action, raw: Any, *, incident: Incident | None = None) -> ActionParams:
    """Validate an action's parameters from any adapter; errors name every parameter at fault.

    Given the ``incident``, what it still lacks (a resolution's category or fault times) is
    named in the same answer, so one refusal tells everything that is missing."""
    model = ACTION_PARAMS[action]
    problems: list[dict[str, str]] = []
    parsed: ActionParams | None = None
    try:
        parsed = model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "params"
            kind = error["type"]
            if kind == "missing":
                message = f"is required for {action.value}"
            elif kind == "extra_forbidden":
                message = f"unknown parameter for {action.value}"
            else:
                message = str(error["msg"]).removeprefix("Value error, ")
            problems.append({"field": field, "message": message})
    if problems and incident is not None and action is Action.RESOLVE:
        given = raw if isinstance(raw, dict) else {}
        named = {problem["field"] for problem in problems}
        interrupted = given.get("service_interrupted")
        gaps = resolution_gaps(
            incident,
            category=given.get("category"),
            interrupted=interrupted if isinstance(interrupted, bool) else None,
            occurred=given.get("fault_occurred_at"),
            recovered=given.get("fault_recovery_at", given.get("fault_recovery_time")),
        )
        problems += [gap for gap in gaps if gap["field"] not in named]
    if problems:
        raise invalid(problems)
    assert parsed is not None
    return parsed


def invalid(problems: list[dict[str, str]]) -> ValidationFailed:
    """One refusal naming every problem: ``a: why; b: why``, ``details`` one entry each."""
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return ValidationFailed(message, field=problems[0]["field"], problems=problems)


def resolution_gaps(
    incident: Incident,
    *,
    category: object,
    interrupted: bool | None,
    occurred: object,
    recovered: object,
) -> list[dict[str, str]]:
    """What a resolution lacks, given what was sent and what the incident already has."""
    gaps: list[dict[str, str]] = []
    if category is None and incident.category is None:
        gaps.append({"field": "category", "message": "required to resolve an incident"})
    if incident.service_interrupted if interrupted is None else interrupted:
        if occurred is None and incident.fault_occurred_at is None:
            gaps.append(
                {"field": "fault_occurred_at", "message": _WHEN_INTERRUPTED},
            )
        if recovered is None:
            gaps.append({"field": "fault_recovery_at", "message": _WHEN_INTERRUPTED})
    return gaps


_WHEN_INTERRUPTED = "required when the service was interrupted"
