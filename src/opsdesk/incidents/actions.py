"""Taking lifecycle actions: the one use case behind every button, API call and sweep.

``take_action`` checks the transition in ``lifecycle.TRANSITIONS``, applies the action's
effects (in ``handling``, ``approvals`` and ``endings``), moves the incident to the next
phase and writes one history row, all in the caller's transaction. The incident row is
locked first (``SELECT … FOR UPDATE`` on PostgreSQL, the single writer on SQLite), so two
people acting at once are serialised and the second sees the first one's result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.rules import Trigger
from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, Forbidden, PreconditionFailed, ValidationFailed
from opsdesk.incidents import approvals, assigning, endings, handling
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.acting import Actor
from opsdesk.incidents.changes import diff
from opsdesk.incidents.events import ACTION_EVENTS, IncidentEvent, publish
from opsdesk.incidents.fields import Status
from opsdesk.incidents.history import record_history
from opsdesk.incidents.lifecycle import (
    HISTORY_KEYS,
    PHASE_LABELS,
    TRANSITIONS,
    Action,
    NotAllowed,
    NotPermitted,
    Outcome,
    Phase,
    allowed_actions,
    decide,
    level_outcome,
    phase_of,
    status_of,
)
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.params import parse_params
from opsdesk.incidents.rules import OWNER_FIELDS, RECORDED_FIELDS, IncidentRules
from opsdesk.incidents.schemas import ActionParams, ChangeLevelParams, ConfirmParams, ReopenParams

# What an action's history row records as changed, beyond the editable fields.
LIFECYCLE_FIELDS = (
    "status",
    "sub_status",
    "pause_reason",
    "pause_until",
    "requested_level",
    "reopen_count",
    "cause",
    "solution",
    "fault_recovery_at",
)
_SNAPSHOT_FIELDS = (*RECORDED_FIELDS, *LIFECYCLE_FIELDS)


def phase_of_incident(incident: Incident) -> Phase:
    return phase_of(incident.status, incident.sub_status)


def available_actions(incident: Incident, caller: Caller) -> list[Action]:
    """What ``caller`` may do to ``incident`` now; the reopen window is checked on acting."""
    actor = Actor(caller)
    return allowed_actions(
        phase_of_incident(incident), actor.role, is_reporter=actor.is_reporter_of(incident)
    )


async def take_action(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    action: Action,
    params: ActionParams | dict[str, Any] | None,
    now: datetime,
    rules: IncidentRules = IncidentRules(),
    expected_version: int | None = None,
) -> Incident:
    """Apply ``action`` to the incident ``number`` on behalf of ``caller``.

    ``params`` may be the raw body: it is then checked against this incident, so a refusal
    names everything missing at once (see ``parse_params``)."""
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    if expected_version is not None and incident.version != expected_version:
        raise PreconditionFailed(
            f"incident {number} is at version {incident.version}, not {expected_version}",
            field="If-Match",
        )
    if not isinstance(params, ActionParams):
        params = parse_params(action, params, incident=incident)
    await apply_action(
        session=session,
        incident=incident,
        actor=Actor(caller),
        action=action,
        params=params,
        now=now,
        rules=rules,
    )
    return incident


async def apply_action(
    *,
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    action: Action,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
) -> None:
    """The transition on an incident already loaded and locked by the caller."""
    phase = phase_of_incident(incident)
    is_reporter = actor.is_reporter_of(incident)
    transition = TRANSITIONS.get((phase, action))
    if transition is None:
        allowed = allowed_actions(phase, actor.role, is_reporter=is_reporter)
        error = NotAllowed(phase, action, allowed)
        raise Conflict(
            str(error),
            field="action",
            state=phase.value,
            status=incident.status,
            allowed=[a.value for a in allowed],
        )
    outcome = _outcome(incident, action, params)
    try:
        decide(phase, action, outcome, actor.role, is_reporter=is_reporter)
    except NotPermitted as exc:
        raise Forbidden(str(exc), field="action") from None
    before = _snapshot(incident)
    comment = await _EFFECTS[action](session, incident, actor, params, now, rules, outcome)
    target = transition.target(outcome)
    status, sub_status = status_of(target)
    incident.status = str(status)
    incident.sub_status = None if sub_status is None else str(sub_status)
    if outcome in transition.counts_as_reopen:
        incident.reopen_count += 1
        incident.last_reopened_at = now
        incident.last_reopened_by = actor.user_id
    incident.version += 1
    incident.updated_at = now
    changes = [change.as_dict() for change in diff(before, _snapshot(incident))]
    session.add(
        record_history(
            incident=incident,
            action=HISTORY_KEYS[action],
            operator_id=actor.user_id,
            now=now,
            changes=changes,
            comment=comment,
        )
    )
    events = [ACTION_EVENTS.get(action, IncidentEvent.UPDATED)]
    if incident.status == Status.COMPLETED:
        events = [IncidentEvent.COMPLETED]
    moved = (
        action is Action.REOPEN
        and not _names_owner(params)
        and await _route_again(session, incident, now)
    )
    if moved:
        events.append(IncidentEvent.ASSIGNED)
    await publish(
        session,
        incident_id=incident.id,
        events=events,
        actor_id=actor.user_id,
        now=now,
        comment=comment,
    )
    await session.flush()


def _names_owner(params: ActionParams) -> bool:
    """A resubmission that names its owner keeps it: the rules route only the rest."""
    if not isinstance(params, ReopenParams) or params.resubmission is None:
        return False
    return bool(params.resubmission.model_fields_set & {*OWNER_FIELDS, "workgroup"})


async def _route_again(session: AsyncSession, incident: Incident, now: datetime) -> bool:
    """A reopened incident goes through the rules again; no match keeps its owner.

    True when it moved to someone else."""
    found = await assigning.by_rules(
        session=session,
        values={name: getattr(incident, name) for name in RECORDED_FIELDS},
        trigger=Trigger.REOPEN,
        now=now,
    )
    if found is None:
        return False
    before = assigning.snapshot(incident)
    assigning.apply(incident, found)
    after = assigning.snapshot(incident)
    if not assigning.moved(before, after):
        return False
    session.add(
        IncidentHistory(
            incident_id=incident.id,
            **assigning.assign_row_values(
                status=incident.status,
                before=before,
                after=after,
                operator_id=None,
                now=now,
                note=found.note,
            ),
        )
    )
    return True


def _snapshot(incident: Incident) -> dict[str, Any]:
    return {field: getattr(incident, field) for field in _SNAPSHOT_FIELDS}


def _outcome(incident: Incident, action: Action, params: ActionParams) -> Outcome:
    if action is Action.CONFIRM:
        assert isinstance(params, ConfirmParams)
        return Outcome.CONFIRMED if params.accepted else Outcome.REFUSED
    if action is Action.CHANGE_LEVEL:
        assert isinstance(params, ChangeLevelParams)
        try:
            return level_outcome(incident.level, params.level)
        except ValueError:
            raise ValidationFailed(
                f"level: the incident is already {params.level}", field="level"
            ) from None
    return Outcome.DONE


# Each effect checks its parameters against the incident, sets its columns and returns the
# history row's comment; the status is moved here, after it, from the transition.
_EFFECTS = {
    Action.ACCEPT: handling.accept,
    Action.REJECT: handling.reject,
    Action.FORWARD: handling.forward,
    Action.REMARK: handling.remark,
    Action.PAUSE: approvals.pause,
    Action.APPROVE: approvals.approve,
    Action.DENY: approvals.deny,
    Action.RESUME: approvals.resume,
    Action.CHANGE_LEVEL: approvals.change_level,
    Action.RESOLVE: endings.resolve,
    Action.CONFIRM: endings.confirm,
    Action.REOPEN: endings.reopen,
    Action.CLOSE: endings.close,
    Action.WITHDRAW: endings.withdraw,
    Action.AUTO_COMPLETE: endings.auto_complete,
}


def phase_label(incident: Incident) -> str:
    return PHASE_LABELS[phase_of_incident(incident)].en
