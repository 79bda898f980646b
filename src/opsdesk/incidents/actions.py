"""Taking lifecycle actions: the one use case behind every button, API call and sweep.

``take_action`` checks the transition in ``lifecycle.TRANSITIONS``, applies the action's
effects, moves the incident to the next phase and writes one history row, all in the
caller's transaction. The incident row is locked first (``SELECT … FOR UPDATE`` on
PostgreSQL, the single writer on SQLite), so two people acting at once are serialised and
the second sees the first one's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment.rules import Trigger
from opsdesk.auth.roles import Caller, Role
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references
from opsdesk.core.errors import Conflict, Forbidden, PreconditionFailed, ValidationFailed
from opsdesk.incidents import assigning, attachments
from opsdesk.incidents.changes import diff
from opsdesk.incidents.events import ACTION_EVENTS, IncidentEvent, publish
from opsdesk.incidents.fields import HistoryAction, OwnerType, Status
from opsdesk.incidents.lifecycle import (
    HISTORY_KEYS,
    PHASE_LABELS,
    TRANSITIONS,
    Action,
    NotAllowed,
    NotPermitted,
    Outcome,
    Phase,
    SubStatus,
    allowed_actions,
    decide,
    level_outcome,
    phase_of,
    status_of,
)
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.params import invalid, resolution_gaps
from opsdesk.incidents.params import parse_params as parse_params  # re-exported
from opsdesk.incidents.rollup import open_work_override, resolve_children
from opsdesk.incidents.schemas import (
    ActionParams,
    ChangeLevelParams,
    ConfirmParams,
    ForwardParams,
    IncidentUpdate,
    PauseParams,
    RejectParams,
    RemarkParams,
    ReopenParams,
    ResolveParams,
)
from opsdesk.incidents.service import (
    OWNER_FIELDS,
    RECORDED_FIELDS,
    IncidentRules,
    access_incident,
    check_people,
    normalize_owner,
    prepare_update,
    record_history,
)

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


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (with their role) or the system itself (``caller`` None)."""

    caller: Caller | None

    @property
    def role(self) -> Role | None:
        return None if self.caller is None else self.caller.role

    @property
    def user_id(self) -> str | None:
        return None if self.caller is None else self.caller.user_id

    def is_reporter_of(self, incident: Incident) -> bool:
        if self.caller is None:
            return False
        return self.caller.user_id in (incident.reporter_id, incident.creator_id)


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


def _comment_of(params: ActionParams) -> str:
    value = getattr(params, "comment", "")
    return value if isinstance(value, str) else ""


async def _accept(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    # Whoever accepts takes the incident: a shift's ticket now has a person.
    if actor.caller is not None:
        incident.owner_type = str(OwnerType.INDIVIDUAL)
        incident.assignee_id = actor.caller.user_id
        incident.assignee_scene = None
        incident.assignee_role = None
        incident.assignment_rule_id = None
        incident.assignment_note = f"accepted by {actor.caller.name}"
    incident.accepted_at = now
    return _comment_of(params)


async def _reject(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, RejectParams)
    return params.reason


async def _forward(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, ForwardParams)
    person_or_shift = {"assignee_id", "assignee_scene", "assignee_role"}
    if params.workgroup is None and all(getattr(params, name) is None for name in person_or_shift):
        raise ValidationFailed(
            "assignee_id: forward to a person (assignee_id), a shift "
            "(assignee_scene + assignee_role) or a workgroup (workgroup)",
            field="assignee_id",
        )
    owner = normalize_owner(params.model_dump(include=person_or_shift))
    await check_people(session=session, assignee_id=owner["assignee_id"], reporter_id=None)
    who = actor.caller.name if actor.caller is not None else "opsdesk"
    found = await assigning.by_hand(
        session=session, owner=owner, workgroup=params.workgroup, now=now, who=who
    )
    assert found is not None
    columns = assigning.columns_of(found)
    if params.workgroup is None:
        columns["workgroup"] = incident.workgroup  # a person or shift keeps the group
    unchanged = all(
        columns[name] == getattr(incident, name)
        for name in ("workgroup", "owner_type", "assignee_id", "assignee_scene", "assignee_role")
    )
    if unchanged:
        raise ValidationFailed(
            "assignee_id: the incident already has this owner", field="assignee_id"
        )
    columns["assignment_note"] = f"{found.note} ({params.comment})"[:300]
    for name, value in columns.items():
        setattr(incident, name, value)
    return params.comment


async def _remark(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, RemarkParams)
    return params.note


async def _pause(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, PauseParams)
    if params.until <= now:
        raise ValidationFailed(
            "until: the planned end of the pause must be in the future", field="until"
        )
    incident.pause_reason = params.reason
    incident.pause_until = params.until
    return params.reason


async def _approve(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    if incident.sub_status == SubStatus.LEVEL_CHANGE_REQUESTED and incident.requested_level:
        incident.level = incident.requested_level
        incident.requested_level = None
    return _comment_of(params)


async def _deny(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    if incident.sub_status == SubStatus.PAUSE_REQUESTED:
        incident.pause_reason = None
        incident.pause_until = None
    incident.requested_level = None
    return _comment_of(params)


async def _resume(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    incident.pause_reason = None
    incident.pause_until = None
    return _comment_of(params)


async def _change_level(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, ChangeLevelParams)
    await check_references(session=session, chosen={Kind.LEVEL: params.level})
    # Raising is immediate; lowering waits for an incident manager's approval.
    if outcome is Outcome.RAISE:
        incident.level = params.level
    else:
        incident.requested_level = params.level
    return params.comment


async def _resolve(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, ResolveParams)
    problems = resolution_gaps(
        incident,
        category=params.category,
        interrupted=params.service_interrupted,
        occurred=params.fault_occurred_at,
        recovered=params.fault_recovery_at,
    )
    category = params.category or incident.category
    interrupted = (
        incident.service_interrupted
        if params.service_interrupted is None
        else params.service_interrupted
    )
    occurred = params.fault_occurred_at or incident.fault_occurred_at
    recovered = params.fault_recovery_at
    for name, value in (("fault_occurred_at", occurred), ("fault_recovery_at", recovered)):
        if value is not None and value > now + rules.clock_skew:
            problems.append({"field": name, "message": "must not be in the future"})
    if occurred is not None and recovered is not None and recovered < occurred:
        problems.append(
            {"field": "fault_recovery_at", "message": "must not be before fault_occurred_at"}
        )
    if problems:
        raise invalid(problems)
    override = open_work_override(incident, override=params.override_open_work)
    assert category is not None
    await check_references(session=session, chosen={Kind.CATEGORY: category})
    if params.attachment_ids:
        await attachments.link_attachments(
            session=session,
            incident=incident,
            attachment_ids=params.attachment_ids,
            context="solution",
        )
    incident.category = category
    incident.service_interrupted = interrupted
    incident.fault_occurred_at = occurred
    incident.fault_recovery_at = recovered
    incident.cause = params.cause
    incident.solution = params.solution
    incident.pause_reason = None
    incident.pause_until = None
    incident.resolved_at = now
    await resolve_children(
        session,
        incident,
        actor_id=actor.user_id,
        override_open_work=params.override_open_work,
        now=now,
    )
    return params.solution if override is None else f"{params.solution}\n\n{override}"


async def _confirm(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, ConfirmParams)
    if outcome is Outcome.REFUSED and not params.comment:
        raise ValidationFailed("comment: say why the resolution is refused", field="comment")
    if outcome is Outcome.CONFIRMED:
        incident.completed_at = now
    return params.comment


async def _reopen(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    assert isinstance(params, ReopenParams)
    if incident.status == Status.COMPLETED and await was_withdrawn(session, incident):
        raise Conflict(
            "reopen: the reporter withdrew this incident before anyone accepted it; "
            "report a new incident instead",
            field="action",
            state=phase_of_incident(incident).value,
            status=incident.status,
            allowed=[],
        )
    if params.resubmission is not None:
        await _resubmit(session, incident, actor, params.resubmission, now, rules)
    since = {
        Status.RESOLVED: incident.resolved_at,
        Status.COMPLETED: incident.completed_at,
    }.get(Status(incident.status))
    if since is not None and now - since > rules.reopen_window:
        days = rules.reopen_window.total_seconds() / 86400
        raise Conflict(
            f"reopen: the incident ended on {since:%Y-%m-%d %H:%M} UTC, more than {days:g} days "
            "ago; report a new incident instead",
            field="action",
            state=phase_of_incident(incident).value,
            status=incident.status,
            allowed=[],
        )
    return params.reason


async def _resubmit(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    fields: IncidentUpdate,
    now: datetime,
    rules: IncidentRules,
) -> None:
    """COC's ReOpen of a rejected incident re-enters its fields: checked as an edit is."""
    if incident.status != Status.REJECTED or actor.caller is None:
        raise ValidationFailed(
            "resubmission: only a rejected incident is resubmitted with corrected fields; "
            "reopen a resolved or closed one with a reason alone",
            field="resubmission",
        )
    after = await prepare_update(
        session=session, caller=actor.caller, incident=incident, data=fields, now=now, rules=rules
    )
    for field, value in after.items():
        setattr(incident, field, value)


async def _close(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    incident.completed_at = now
    return _comment_of(params)


async def was_withdrawn(session: AsyncSession, incident: Incident) -> bool:
    """Whether a completed incident ended by its reporter's withdrawal (nothing to reopen)."""
    if incident.resolved_at is not None:
        return False
    last_end = await session.scalar(
        select(IncidentHistory.action)
        .where(
            IncidentHistory.incident_id == incident.id,
            IncidentHistory.action.in_(
                [HistoryAction.WITHDRAW, HistoryAction.CLOSE, HistoryAction.REOPEN]
            ),
        )
        .order_by(IncidentHistory.start_time.desc(), IncidentHistory.id.desc())
        .limit(1)
    )
    return last_end == HistoryAction.WITHDRAW


async def _withdraw(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    incident.completed_at = now
    return _comment_of(params) or "withdrawn by the reporter"


async def _auto_complete(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    if incident.major:
        raise Conflict("auto_complete: major incidents are never completed automatically")
    incident.completed_at = now
    return _comment_of(params) or "not confirmed in time: completed automatically"


_EFFECTS = {
    Action.ACCEPT: _accept,
    Action.REJECT: _reject,
    Action.FORWARD: _forward,
    Action.REMARK: _remark,
    Action.PAUSE: _pause,
    Action.APPROVE: _approve,
    Action.DENY: _deny,
    Action.RESUME: _resume,
    Action.CHANGE_LEVEL: _change_level,
    Action.RESOLVE: _resolve,
    Action.CONFIRM: _confirm,
    Action.REOPEN: _reopen,
    Action.CLOSE: _close,
    Action.WITHDRAW: _withdraw,
    Action.AUTO_COMPLETE: _auto_complete,
}


def phase_label(incident: Incident) -> str:
    return PHASE_LABELS[phase_of_incident(incident)].en
