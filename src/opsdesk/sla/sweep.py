"""The SLA sweep: escalation happens here only.

It takes the rows whose ``next_at`` has come (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
concurrent sweeps split the work), recomputes them, runs the actions of each threshold
crossed and not yet escalated, records the percents in ``acted`` and writes one history row,
all in the caller's transaction, so each crossing escalates exactly once. A sweep that comes
late, after several thresholds of one clock were crossed, escalates the highest of them only
(a 50 % warning after the breach is noise). A retroactive change that un-crosses a threshold
(a lower level, say) removes it from ``acted``, so crossing it again later is a new crossing
and escalates again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core import jobs
from opsdesk.core.errors import OpsdeskError
from opsdesk.core.settings import Settings
from opsdesk.incidents import assigning
from opsdesk.incidents.fields import LEVELS, HistoryAction
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.notify.service import notify_incident_event
from opsdesk.sla.clock import ClockState, SlaClock, Target
from opsdesk.sla.clocks import TARGET_ORDER, enqueue_refresh, pending_crossings, store_clocks
from opsdesk.sla.configuration import load_config
from opsdesk.sla.models import IncidentSla
from opsdesk.sla.policies import (
    ActionKind,
    SlaPolicy,
)
from opsdesk.sla.timeline import clocks_of, histories_of, reporter_organisations

log = logging.getLogger(__name__)


_NOTIFY_KINDS = {
    ActionKind.NOTIFY_ASSIGNEE: "assignee",
    ActionKind.NOTIFY_GROUP: "group",
    ActionKind.NOTIFY_MANAGER: "manager",
}
BREACH_EVENT = str(HistoryAction.SLA_BREACH)
WARNING_EVENT = str(HistoryAction.SLA_WARNING)
SWEEP_JOB = "sla.sweep"
NOTIFY_JOB = "sla.notify"


@dataclass
class SweepResult:
    claimed: int = 0
    escalations: int = 0
    notifications: int = 0
    actions: list[str] = field(default_factory=list)
    # The sweep's notification jobs, queued together at its end (one insert, not one each).
    queued: list[jobs.NewJob] = field(default_factory=list)


def _next_level(level: str) -> str | None:
    try:
        index = LEVELS.index(level)
    except ValueError:
        return None
    return LEVELS[index - 1] if index > 0 else None


async def _reassign(
    session: AsyncSession, incident: Incident, workgroup: str, now: datetime, why: str
) -> str:
    found = await assigning.by_hand(
        session=session, owner={}, workgroup=workgroup, now=now, who="SLA escalation"
    )
    if found is None:
        return f"reassign to {workgroup}: nothing to do"
    before = assigning.snapshot(incident)
    assigning.apply(incident, found)
    incident.assignment_note = f"{found.note} ({why})"[:300]
    after = assigning.snapshot(incident)
    if not assigning.moved(before, after):
        return f"reassign to {workgroup}: already there"
    incident.version += 1
    incident.updated_at = now
    session.add(
        IncidentHistory(
            incident_id=incident.id,
            **assigning.assign_row_values(
                status=incident.status,
                before=before,
                after=after,
                operator_id=None,
                now=now,
                note=incident.assignment_note or why,
            ),
        )
    )
    return f"reassigned to {workgroup}"


def _raise_level(session: AsyncSession, incident: Incident, now: datetime, why: str) -> str:
    new = _next_level(incident.level)
    if new is None:
        return "raise level: already the highest"
    old = incident.level
    incident.level = new
    incident.level_explicit = True
    incident.version += 1
    incident.updated_at = now
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.CHANGE_LEVEL.value,
            operator_id=None,
            now=now,
            changes=[{"field": "level", "old": old, "new": new}],
            comment=why,
        )
    )
    return f"level raised from {old} to {new}"


async def _escalate(
    session: AsyncSession,
    *,
    incident: Incident,
    policy: SlaPolicy,
    clock: SlaClock,
    percent: float,
    crossed_at: datetime,
    now: datetime,
    result: SweepResult,
) -> bool:
    """Run the actions of one crossing and write its history row; True if the level changed."""
    breach = percent >= 100
    event = BREACH_EVENT if breach else WARNING_EVENT
    due = clock.due_at or clock.breached_at
    due_text = "" if due is None else due.isoformat()
    why = f"{clock.target.value} SLA at {percent:g} % ({policy.key})"
    done: list[str] = []
    level_changed = False
    notify_kinds: list[str] = []
    for action in policy.actions_at(percent):
        if action.kind in _NOTIFY_KINDS:
            notify_kinds.append(_NOTIFY_KINDS[action.kind])
            continue
        try:
            if action.kind is ActionKind.REASSIGN and action.workgroup is not None:
                done.append(await _reassign(session, incident, action.workgroup, now, why))
            elif action.kind is ActionKind.RAISE_LEVEL:
                outcome = _raise_level(session, incident, now, why)
                level_changed = outcome.startswith("level raised")
                done.append(outcome)
        except OpsdeskError as exc:
            # A deleted workgroup must not block the other escalations forever.
            log.warning("SLA escalation %s on %s failed: %s", action.kind, incident.number, exc)
            done.append(f"{action.kind} failed: {exc.message}")
    if notify_kinds:
        # Rendering mails costs milliseconds each: the sweep only queues the notification,
        # in the same transaction as ``acted``, and a job does the rest.
        event_key = f"sla:{clock.target.value}:{percent:g}:{crossed_at.isoformat()}"
        result.queued.append(
            jobs.NewJob(
                kind=NOTIFY_JOB,
                payload={
                    "incident_id": incident.id,
                    "event": event,
                    "extra": {
                        # One crossing is one event: a repeated sweep cannot queue its mails twice.
                        "event_key": event_key,
                        "target": clock.target.value,
                        "percent": percent,
                        "due_at": due_text,
                        "policy": policy.key,
                        "recipients": notify_kinds,
                    },
                },
                dedupe_key=f"{NOTIFY_JOB}:{incident.id}:{event_key}"[:200],
            )
        )
        done.append("notified " + ", ".join(notify_kinds))
    session.add(
        record_history(
            incident=incident,
            action=event,
            operator_id=None,
            now=now,
            changes=[
                {"field": "sla_target", "old": None, "new": clock.target.value},
                {"field": "sla_percent", "old": None, "new": percent},
            ],
            comment=f"{why}; due {due_text or '-'}" + (f"; {'; '.join(done)}" if done else ""),
        )
    )
    result.escalations += 1
    result.actions.extend(f"{incident.number}: {item}" for item in done)
    return level_changed


async def sweep_sla(session: AsyncSession, *, now: datetime, limit: int = 500) -> SweepResult:
    """Escalate every clock whose ``next_at`` has come; see the module docstring."""
    result = SweepResult()
    rows = list(
        await session.scalars(
            select(IncidentSla)
            .where(IncidentSla.next_at <= now)
            .order_by(IncidentSla.next_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    result.claimed = len(rows)
    if not rows:
        return result
    ids = sorted({row.incident_id for row in rows})
    incidents = {
        incident.id: incident
        for incident in await session.scalars(select(Incident).where(Incident.id.in_(ids)))
    }
    histories = await histories_of(session, ids)
    organisations = await reporter_organisations(session, incidents.values())
    config = await load_config(session)
    changed: set[int] = set()
    for row in rows:
        incident = incidents.get(row.incident_id)
        if incident is None:
            await session.delete(row)
            continue
        policy, clocks = clocks_of(
            config,
            incident,
            histories[incident.id],
            now,
            organisation=organisations.get(incident.reporter_id),
        )
        clock = clocks.get(Target(row.target)) if row.target in TARGET_ORDER else None
        if policy is None or clock is None:
            await session.delete(row)
            continue
        acted = [p for p in (row.acted or []) if p in {c.percent for c in clock.crossed}]
        pending = pending_crossings(clock, acted) if clock.state is ClockState.RUNNING else []
        if pending:
            percent, crossed_at = pending[-1]
            if await _escalate(
                session,
                incident=incident,
                policy=policy,
                clock=clock,
                percent=percent,
                crossed_at=crossed_at,
                now=now,
                result=result,
            ):
                changed.add(incident.id)
            acted = sorted({*acted, *(p for p, _at in pending)})
        store_clocks(row, policy, clock, acted, now)
    if result.queued:
        result.notifications = await jobs.enqueue_many(session, new_jobs=result.queued, now=now)
    await session.flush()
    for incident_id in changed:
        # A new level may mean a new policy: recompute both clocks in their own job.
        await enqueue_refresh(session, incident_id=incident_id, now=now)
    return result


async def send_notification(
    session: AsyncSession,
    *,
    payload: dict[str, Any],
    now: datetime,
    settings: Settings | None = None,
) -> int:
    """The ``sla.notify`` job: queue the mails of one crossing (deduplicated by its key),
    to whom the threshold's notify actions name."""
    extra = dict(payload.get("extra") or {})
    chosen = extra.get("recipients")
    return await notify_incident_event(
        session,
        incident_id=int(payload["incident_id"]),
        event=str(payload["event"]),
        actor_id=None,
        now=now,
        settings=settings,
        extra=extra,
        recipients=[str(kind) for kind in chosen] if isinstance(chosen, list) else None,
    )
