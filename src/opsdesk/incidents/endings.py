"""Effects of the actions that end an incident or bring it back: resolve (with its
children), confirm or refuse the resolution, close, withdraw, complete automatically, and
reopen (a rejected incident with corrected fields). Called only through
``actions.apply_action``, which checks the transition first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references
from opsdesk.core.errors import Conflict, ValidationFailed
from opsdesk.incidents import attachments
from opsdesk.incidents.acting import Actor, comment_of
from opsdesk.incidents.editing import prepare_update
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.lifecycle import Outcome, phase_of
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.params import invalid, resolution_gaps
from opsdesk.incidents.rollup import open_work_override, resolve_children
from opsdesk.incidents.rules import IncidentRules
from opsdesk.incidents.schemas import (
    ActionParams,
    ConfirmParams,
    IncidentUpdate,
    ReopenParams,
    ResolveParams,
)


async def resolve(
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


async def confirm(
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


async def reopen(
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
            state=phase_of(incident.status, incident.sub_status).value,
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
            state=phase_of(incident.status, incident.sub_status).value,
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


async def close(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    incident.completed_at = now
    return comment_of(params)


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


async def withdraw(
    session: AsyncSession,
    incident: Incident,
    actor: Actor,
    params: ActionParams,
    now: datetime,
    rules: IncidentRules,
    outcome: Outcome,
) -> str:
    incident.completed_at = now
    return comment_of(params) or "withdrawn by the reporter"


async def auto_complete(
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
    return comment_of(params) or "not confirmed in time: completed automatically"
