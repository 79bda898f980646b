"""COC's action keys and parameter names, translated to the lifecycle's actions.

One COC key can mean different actions on different workflow nodes (``rejected`` rejects a
new incident but denies a pause request), so a key is resolved against the incident's
current phase: among the actions allowed there, the one whose key it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from opsdesk.core.bounds import TIME_RANGE, moment_from_ms
from opsdesk.core.errors import Conflict, Forbidden, ValidationFailed
from opsdesk.incidents.lifecycle import TRANSITIONS, Action, Phase

# The v2 key of each action (forward depends on the phase, see key_of).
V2_KEYS: dict[Action, str] = {
    Action.ACCEPT: "accepted",
    Action.REJECT: "rejected",
    Action.FORWARD: "acceptedForward",
    Action.REMARK: "addRemark",
    Action.PAUSE: "incidentPause",
    Action.APPROVE: "agreed",
    Action.DENY: "rejected",
    Action.RESUME: "recovery",
    Action.CHANGE_LEVEL: "changeLevel",
    Action.RESOLVE: "commitSolution",
    Action.CONFIRM: "confirm",
    Action.REOPEN: "ReOpen",
    Action.CLOSE: "agreed",
}
# The v1 ``operate_key`` of each action (HandleCocIncident).
V1_KEYS: dict[Action, str] = {
    **V2_KEYS,
    Action.ACCEPT: "acceptedIncident1",
    Action.FORWARD: "forwardOther1",
    Action.RESOLVE: "commitSolution1",
    Action.CHANGE_LEVEL: "incidentChangeLevel1",
}


def key_of(action: Action, phase: Phase, *, v1: bool = False) -> str:
    if not v1 and action is Action.FORWARD and phase is Phase.NEW:
        return "unAcceptedForward"
    return (V1_KEYS if v1 else V2_KEYS)[action]


_EPOCH_MS = re.compile(r"-?[0-9]{1,19}")
_ALL_V2 = frozenset({*V2_KEYS.values(), "unAcceptedForward"})
_ALL_V1 = frozenset(V1_KEYS.values())


def action_for(key: str, phase: Phase, allowed: list[Action], *, v1: bool = False) -> Action:
    """The action ``key`` means in ``phase``: a parameter error for a key COC does not have,
    a conflict for one that is not possible now."""
    # Our own actions COC has no key for (withdraw) are not reachable through it.
    allowed = [action for action in allowed if action in V2_KEYS]
    for action in allowed:
        if key_of(action, phase, v1=v1) == key:
            return action
    field = "operate_key" if v1 else "action"
    if key not in (_ALL_V1 if v1 else _ALL_V2):
        raise ValidationFailed(f"The field[{field}] value[{key}] invalid", field=field)
    possible = ", ".join(sorted({key_of(a, phase, v1=v1) for a in allowed})) or "none"
    if any(
        (phase, action) in TRANSITIONS and key_of(action, phase, v1=v1) == key for action in V2_KEYS
    ):
        raise Forbidden(
            f"{field}: {key!r} is possible now, but not for your role; possible for you: "
            f"{possible}",
            field=field,
        )
    raise Conflict(
        f"{field}: {key!r} is not possible while the incident is {phase.value}; "
        f"possible now: {possible}",
        field=field,
    )


def _ms(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(f"params.{name}: must be epoch milliseconds", field=name)
    text = str(value).strip()
    moment = moment_from_ms(int(text)) if _EPOCH_MS.fullmatch(text) else None
    if moment is None:
        raise ValidationFailed(
            f"params.{name}: must be epoch milliseconds of {TIME_RANGE}", field=name
        )
    return moment


def _flag(value: Any, name: str, default: bool | None = None) -> bool | None:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValidationFailed(f"params.{name}: must be true or false", field=name)


def _text(value: Any) -> Any:
    return None if value == "" else value


def doc_ids(value: Any, name: str) -> list[str]:
    """COC attachment references: a list of doc_ids, or one comma-separated string."""
    if value in (None, ""):
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValidationFailed(f"{name}: must be a list of doc_id strings", field=name)
    return [item.strip() for item in items if item.strip()]


def _forward(p: Mapping[str, Any]) -> dict[str, Any]:
    comment = _text(p.get("virtual_send_comment")) or _text(p.get("virtual_current_location_info"))
    return {
        "assignee_id": _text(p.get("virtual_send_assignee")),
        "assignee_scene": _text(p.get("virtual_schedule_type")),
        "assignee_role": _text(p.get("virtual_schedule_role")),
        "comment": comment or "forwarded",
    }


def _resolve(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cause": p.get("cause"),
        "solution": p.get("solution"),
        "category": _text(p.get("mtm_type")),
        "service_interrupted": _flag(p.get("is_service_interrupt"), "is_service_interrupt"),
        "fault_occurred_at": _ms(p.get("start_time"), "start_time"),
        "fault_recovery_time": _ms(p.get("fault_recovery_time"), "fault_recovery_time"),
        # opsdesk's own: resolve although tasks or work orders are open (recorded).
        "override_open_work": _flag(p.get("override_open_work"), "override_open_work"),
    }


# ReOpen of a rejected incident re-enters its fields (coc-api.md, action 15): COC's names →
# the incident's.
RESUBMIT_FIELDS: dict[str, str] = {
    "title": "title",
    "description": "description",
    "level_id": "level",
    "mtm_type": "category",
    "mtm_region": "region",
    "enterprise_project_id": "enterprise_project",
    "current_cloud_service_id": "application",
    "incident_ownership": "ownership",
    "assignee": "assignee_id",
    "assignee_scene": "assignee_scene",
    "assignee_role": "assignee_role",
}

# Our names of what a resubmission may change, as the service names them in its errors.
RESUBMIT_NAMES = frozenset(RESUBMIT_FIELDS.values()) | {"service_interrupted", "fault_occurred_at"}


def _single(value: Any, name: str) -> Any:
    """COC sends some of these as a one-element array, some as a plain string."""
    if isinstance(value, list):
        if len(value) > 1:
            raise ValidationFailed(f"params.{name}: takes one value", field=name)
        return value[0] if value else None
    return _text(value)


def _reopen(p: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        ours: _single(p.get(coc), coc)
        for coc, ours in RESUBMIT_FIELDS.items()
        if _single(p.get(coc), coc) is not None
    }
    interrupted = _flag(p.get("is_service_interrupt"), "is_service_interrupt")
    if interrupted is not None:
        fields["service_interrupted"] = interrupted
    occurred = _ms(p.get("start_time"), "start_time")
    if occurred is not None:
        fields["fault_occurred_at"] = occurred
    reason = _text(p.get("virtual_confirm_comment")) or "resubmitted with corrections"
    return {"reason": reason, "resubmission": fields or None}


# COC params → the lifecycle's params, per action. Parameters COC clients send that mean
# nothing here are left out rather than refused: COC's params are an open map.
TRANSLATE: dict[Action, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    Action.ACCEPT: lambda p: {},
    Action.REJECT: lambda p: {"reason": p.get("virtual_confirm_comment")},
    Action.FORWARD: _forward,
    Action.REMARK: lambda p: {"note": p.get("note")},
    Action.PAUSE: lambda p: {
        "reason": p.get("pause_reason"),
        "until": _ms(p.get("pause_end_time"), "pause_end_time"),
    },
    Action.APPROVE: lambda p: {"comment": p.get("note") or ""},
    Action.DENY: lambda p: {"comment": p.get("note") or ""},
    Action.RESUME: lambda p: {},
    Action.CHANGE_LEVEL: lambda p: {
        "level": p.get("virtual_target_level"),
        "comment": p.get("virtual_change_level_comment"),
    },
    Action.RESOLVE: _resolve,
    Action.CONFIRM: lambda p: {
        "accepted": _flag(p.get("virtual_confirm_result"), "virtual_confirm_result", True),
        "comment": p.get("virtual_confirm_comment") or "",
    },
    Action.REOPEN: _reopen,
    Action.CLOSE: lambda p: {"comment": p.get("note") or ""},
}

# Our parameter names back to COC's, so that errors name what the client sent.
COC_NAMES: dict[str, str] = {
    "reason": "virtual_confirm_comment",
    "assignee_id": "virtual_send_assignee",
    "assignee_scene": "virtual_schedule_type",
    "assignee_role": "virtual_schedule_role",
    "until": "pause_end_time",
    "level": "virtual_target_level",
    "category": "mtm_type",
    "service_interrupted": "is_service_interrupt",
    "fault_occurred_at": "start_time",
    "attachment_ids": "resolve_attachments",
    "accepted": "virtual_confirm_result",
    **{f"resubmission.{ours}": coc for coc, ours in RESUBMIT_FIELDS.items()},
    "resubmission.service_interrupted": "is_service_interrupt",
    "resubmission.fault_occurred_at": "start_time",
}


def coc_params(action: Action, raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationFailed("params: must be an object", field="params")
    translated = TRANSLATE[action](raw)
    return {name: value for name, value in translated.items() if value is not None}
