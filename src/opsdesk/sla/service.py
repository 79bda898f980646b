"""SLA use cases: store and cache policies and calendars, keep each incident's clocks, sweep.

The clocks are a pure function of the incident's history (``sla.clock``); this module reads
that history, matches the policy on the incident's current facts, and stores the result in
``incident_sla`` with the instant of the next threshold (``next_at``). Nothing counts time
incrementally, so a level, policy or calendar change recomputes every clock from creation.

Escalation happens in ``sweep_sla`` only: it takes the rows whose ``next_at`` has come
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent sweeps split the work), recomputes
them, runs the actions of each threshold crossed and not yet escalated, records the
percents in ``acted`` and writes one history row, all in the caller's transaction, so each
crossing escalates exactly once. A sweep that comes late, after several thresholds of one
clock were crossed, escalates the highest of them only (a 50 % warning after the breach is
noise). A retroactive change that un-crosses a threshold (a lower level, say) removes it
from ``acted``, so crossing it again later is a new crossing and escalates again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Caller, Role
from opsdesk.core import jobs
from opsdesk.core.cache import forget, remember
from opsdesk.core.errors import Conflict, NotFound, OpsdeskError, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents import assigning
from opsdesk.incidents.fields import LEVELS, HistoryAction, Status
from opsdesk.incidents.lifecycle import Phase, phase_of
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.incidents.service import record_history
from opsdesk.notify.service import notify_incident_event
from opsdesk.sla.calendar import (
    END_OF_DAY,
    BusinessCalendar,
    WorkingSpan,
    holidays_for,
    holidays_from_ical,
)
from opsdesk.sla.clock import ClockState, PhaseChange, SlaClock, Target
from opsdesk.sla.models import IncidentSla, SlaCalendarRow, SlaPolicyRow
from opsdesk.sla.policies import (
    DEFAULT_CALENDARS,
    DEFAULT_POLICIES,
    ActionKind,
    EscalationAction,
    IncidentFacts,
    SlaPolicy,
    Threshold,
    match_policy,
    policy_clocks,
)
from opsdesk.sla.schemas import CalendarIn, PolicyIn

log = logging.getLogger(__name__)

SWEEP_JOB = "sla.sweep"
REFRESH_JOB = "sla.refresh"
RECOMPUTE_JOB = "sla.recompute"
NOTIFY_JOB = "sla.notify"
RECOMPUTE_BATCH = 500
WARNING_EVENT = str(HistoryAction.SLA_WARNING)
BREACH_EVENT = str(HistoryAction.SLA_BREACH)
_CACHE = "reference"
_CACHE_KEY = ("sla", "config")
_NOTIFY_KINDS = {
    ActionKind.NOTIFY_ASSIGNEE: "assignee",
    ActionKind.NOTIFY_GROUP: "group",
    ActionKind.NOTIFY_MANAGER: "manager",
}
_TARGET_ORDER = {Target.RESPONSE.value: 0, Target.RESOLUTION.value: 1}
MATCH_FIELDS = ("levels", "categories", "applications", "regions", "organisations")


# -- rows <-> domain ------------------------------------------------------------------------


def _span_out(span: WorkingSpan) -> dict[str, Any]:
    end = "24:00" if span.end == END_OF_DAY else f"{span.end:%H:%M}"
    return {"weekday": span.weekday, "start": f"{span.start:%H:%M}", "end": end}


def calendar_values(calendar: BusinessCalendar) -> dict[str, Any]:
    """A calendar as the columns of its row."""
    return {
        "key": calendar.key,
        "name": calendar.name,
        "time_zone": calendar.time_zone,
        "hours": [_span_out(span) for span in calendar.hours],
        "holidays": {day.isoformat(): name for day, name in sorted(calendar.holidays.items())},
        "always_open": calendar.always_open,
    }


def calendar_of(row: SlaCalendarRow) -> BusinessCalendar:
    """The domain calendar of a stored row (raises ValueError naming the bad part)."""
    return BusinessCalendar(
        key=row.key,
        name=row.name,
        time_zone=row.time_zone,
        hours=tuple(
            WorkingSpan.parse(int(span["weekday"]), str(span["start"]), str(span["end"]))
            for span in row.hours
        ),
        holidays={date.fromisoformat(day): name for day, name in (row.holidays or {}).items()},
        always_open=row.always_open,
    )


def thresholds_values(thresholds: Iterable[Threshold]) -> list[dict[str, Any]]:
    return [
        {
            "percent": t.percent,
            "actions": [{"kind": str(a.kind), "workgroup": a.workgroup} for a in t.actions],
        }
        for t in thresholds
    ]


def policy_values(policy: SlaPolicy) -> dict[str, Any]:
    """A policy as the columns of its row."""
    return {
        "key": policy.key,
        "name": policy.name,
        "order": policy.order,
        "match": {name: sorted(getattr(policy, name)) for name in MATCH_FIELDS},
        "calendar": policy.calendar,
        "response_s": policy.response_s,
        "resolution_s": policy.resolution_s,
        "pause_phases": sorted(policy.pause_phases),
        "thresholds": thresholds_values(policy.thresholds),
    }


def policy_of(row: SlaPolicyRow) -> SlaPolicy:
    match = row.match or {}
    return SlaPolicy(
        key=row.key,
        name=row.name,
        order=row.order,
        calendar=row.calendar,
        response_s=row.response_s,
        resolution_s=row.resolution_s,
        levels=frozenset(match.get("levels", ())),
        categories=frozenset(match.get("categories", ())),
        applications=frozenset(match.get("applications", ())),
        regions=frozenset(match.get("regions", ())),
        organisations=frozenset(match.get("organisations", ())),
        pause_phases=frozenset(row.pause_phases),
        thresholds=tuple(
            Threshold(
                float(t["percent"]),
                tuple(
                    EscalationAction(ActionKind(a["kind"]), a.get("workgroup"))
                    for a in t.get("actions", ())
                ),
            )
            for t in row.thresholds
        ),
    )


@dataclass(frozen=True)
class SlaConfig:
    """The active policies (in matching order) and every calendar, as domain objects."""

    policies: tuple[SlaPolicy, ...]
    calendars: Mapping[str, BusinessCalendar]

    def policy_for(self, facts: IncidentFacts) -> SlaPolicy | None:
        return match_policy(self.policies, facts)

    def policy(self, key: str) -> SlaPolicy | None:
        return next((p for p in self.policies if p.key == key), None)


async def load_config(session: AsyncSession) -> SlaConfig:
    """Policies and calendars, cached a few seconds per process (calendars keep their
    interval tables between calls, which is what makes a sweep cheap)."""

    async def load() -> SlaConfig:
        calendars: dict[str, BusinessCalendar] = {}
        for row in await session.scalars(select(SlaCalendarRow)):
            try:
                calendars[row.key] = calendar_of(row)
            except ValueError:
                log.exception("SLA calendar %r is invalid and is ignored", row.key)
        policies: list[SlaPolicy] = []
        policy_rows = await session.scalars(
            select(SlaPolicyRow)
            .where(SlaPolicyRow.active.is_(True))
            .order_by(SlaPolicyRow.order, SlaPolicyRow.key)
        )
        for policy_row in policy_rows:
            try:
                policy = policy_of(policy_row)
            except ValueError:
                log.exception("SLA policy %r is invalid and is ignored", policy_row.key)
                continue
            if policy.calendar in calendars:
                policies.append(policy)
        return SlaConfig(policies=tuple(policies), calendars=calendars)

    return await remember(session, _CACHE, _CACHE_KEY, load)


def forget_config(session: AsyncSession) -> None:
    """After an administrator's change: this process sees it at once."""
    forget(session, _CACHE)


async def seed_sla_defaults(*, session: AsyncSession, now: datetime) -> int:
    """Add the default calendars and policies that are missing; returns how many."""
    added = 0
    have = set(await session.scalars(select(SlaCalendarRow.key)))
    for calendar in DEFAULT_CALENDARS.values():
        if calendar.key not in have:
            session.add(SlaCalendarRow(**calendar_values(calendar), updated_at=now))
            added += 1
    await session.flush()
    have = set(await session.scalars(select(SlaPolicyRow.key)))
    for policy in DEFAULT_POLICIES:
        if policy.key not in have:
            session.add(SlaPolicyRow(**policy_values(policy), active=True, updated_at=now))
            added += 1
    await session.flush()
    if added:
        forget_config(session)
    return added


# -- the phase timeline ---------------------------------------------------------------------


def facts_of(incident: Incident, *, organisation: str | None) -> IncidentFacts:
    """What a policy matches on; ``organisation`` is the reporter's (the requester's)."""
    return IncidentFacts(
        level=incident.level,
        category=incident.category,
        application=incident.application,
        region=incident.region,
        organisation=organisation,
    )


async def reporter_organisations(
    session: AsyncSession, incidents: Iterable[Incident]
) -> dict[str, str | None]:
    """Reporter id → organisation for a batch of incidents, in one query."""
    return await auth.organisations_of(
        session=session, user_ids={incident.reporter_id for incident in incidents}
    )


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    status: str
    changes: Sequence[dict[str, Any]]


def phase_timeline(created_at: datetime, points: Sequence[HistoryPoint]) -> list[PhaseChange]:
    """Where the incident was when: one change per phase change, from its creation.

    Every history row carries the status after it; the workflow node inside "acknowledged"
    (paused, …) is the ``sub_status`` field of the rows' recorded changes.
    """
    timeline: list[PhaseChange] = []
    sub_status: str | None = None
    last: str | None = None
    previous = created_at
    for point in points:
        for change in point.changes:
            if change.get("field") == "sub_status":
                new = change.get("new")
                sub_status = new if isinstance(new, str) else None
        if point.status != Status.ACKNOWLEDGED:
            sub_status = None
        try:
            phase = phase_of(point.status, sub_status).value
        except ValueError:
            continue  # an unknown pair is not a phase change the clock can use
        at = max(point.at, previous)
        if not timeline:
            timeline.append(PhaseChange(created_at, phase))
        elif phase != last:
            timeline.append(PhaseChange(at, phase))
        previous = at
        last = phase
    if not timeline:
        timeline.append(PhaseChange(created_at, Phase.NEW.value))
    return timeline


async def _histories(
    session: AsyncSession, incident_ids: Sequence[int]
) -> dict[int, list[HistoryPoint]]:
    found: dict[int, list[HistoryPoint]] = {i: [] for i in incident_ids}
    if not incident_ids:
        return found
    rows = await session.execute(
        select(
            IncidentHistory.incident_id,
            IncidentHistory.start_time,
            IncidentHistory.status,
            IncidentHistory.changes,
        )
        .where(IncidentHistory.incident_id.in_(list(incident_ids)))
        .order_by(IncidentHistory.incident_id, IncidentHistory.start_time, IncidentHistory.id)
    )
    for incident_id, at, status, changes in rows:
        found[incident_id].append(HistoryPoint(at, status, changes or []))
    return found


def clocks_of(
    config: SlaConfig,
    incident: Incident,
    points: Sequence[HistoryPoint],
    now: datetime,
    *,
    organisation: str | None,
) -> tuple[SlaPolicy | None, dict[Target, SlaClock]]:
    """The matched policy and its clocks at ``now``, over the whole history."""
    policy = config.policy_for(facts_of(incident, organisation=organisation))
    if policy is None:
        return None, {}
    at = max(now, incident.created_at)
    timeline = phase_timeline(incident.created_at, points)
    return policy, policy_clocks(
        policy, config.calendars, created_at=incident.created_at, timeline=timeline, now=at
    )


# -- stored clocks --------------------------------------------------------------------------


def _pending(clock: SlaClock, acted: Iterable[float]) -> list[tuple[float, datetime]]:
    """Thresholds crossed and not yet escalated, lowest first."""
    done = set(acted)
    return [(c.percent, c.at) for c in clock.crossed if c.percent not in done]


def _schedule(clock: SlaClock, acted: Sequence[float]) -> tuple[datetime | None, float | None]:
    """When the sweep must look at this clock next, and for which threshold."""
    if clock.state is not ClockState.RUNNING:
        return None, None
    pending = _pending(clock, acted)
    if pending:
        return pending[0][1], pending[0][0]
    if clock.next_threshold is not None:
        return clock.next_threshold.at, clock.next_threshold.percent
    return None, None


def _store(
    row: IncidentSla, policy: SlaPolicy, clock: SlaClock, acted: Sequence[float], now: datetime
) -> None:
    crossed = {c.percent for c in clock.crossed}
    # A threshold no longer crossed (a retroactive change) may be crossed, and escalated,
    # again later.
    kept = sorted(p for p in acted if p in crossed)
    next_at, next_percent = _schedule(clock, kept)
    row.policy = policy.key
    row.calendar = policy.calendar
    row.goal_s = clock.goal_s
    row.state = clock.state.value
    row.elapsed_s = clock.elapsed_s
    row.paused_s = clock.paused_s
    row.percent = clock.percent
    row.due_at = clock.due_at
    row.breached_at = clock.breached_at
    row.next_at = next_at
    row.next_percent = next_percent
    row.acted = kept
    row.computed_at = now


async def _locked_rows(session: AsyncSession, incident_id: int) -> dict[str, IncidentSla]:
    # Locked in one order (by target) so that two refreshes of one incident never deadlock.
    rows = await session.scalars(
        select(IncidentSla)
        .where(IncidentSla.incident_id == incident_id)
        .order_by(IncidentSla.target)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.target: row for row in rows}


async def refresh_incident_sla(
    session: AsyncSession,
    *,
    incident_id: int,
    now: datetime,
    organisations: Mapping[str, str | None] | None = None,
) -> list[IncidentSla]:
    """Recompute the incident's clocks and store them; idempotent, escalates nothing.

    Call it after any change to the incident (status, level, category, …); the sweep does
    the escalating when a stored ``next_at`` comes. A batch passes ``organisations``
    (reporter id → organisation, see ``reporter_organisations``) loaded once for all.
    """
    # The incident row is the lock: two refreshes of one incident (two of its events handled
    # at once) take turns, so the second sees the clock rows the first inserted.
    incident = await session.scalar(
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    existing = await _locked_rows(session, incident_id)
    if incident is None:
        return []
    config = await load_config(session)
    points = (await _histories(session, [incident_id]))[incident_id]
    if organisations is None or incident.reporter_id not in organisations:
        organisations = await reporter_organisations(session, [incident])
    policy, clocks = clocks_of(
        config, incident, points, now, organisation=organisations.get(incident.reporter_id)
    )
    stored: list[IncidentSla] = []
    if policy is not None:
        for target, clock in clocks.items():
            row = existing.pop(target.value, None)
            if row is None:
                row = IncidentSla(incident_id=incident_id, target=target.value, acted=[])
                session.add(row)
            _store(row, policy, clock, row.acted or [], now)
            stored.append(row)
    for row in existing.values():
        await session.delete(row)
    await session.flush()
    return sorted(stored, key=lambda r: _TARGET_ORDER.get(r.target, 9))


async def enqueue_refresh(session: AsyncSession, *, incident_id: int, now: datetime) -> bool:
    """Recompute the incident's clocks soon, in a job (one waiting job per incident)."""
    return await jobs.enqueue(
        session,
        kind=REFRESH_JOB,
        payload={"incident_id": incident_id},
        now=now,
        dedupe_key=f"{REFRESH_JOB}:{incident_id}",
    )


async def enqueue_recompute(session: AsyncSession, *, now: datetime) -> bool:
    """Recompute every incident's clocks (after a policy or calendar change), in jobs."""
    return await jobs.enqueue(session, kind=RECOMPUTE_JOB, payload={"after_id": 0}, now=now)


async def recompute_batch(
    session: AsyncSession, *, after_id: int, now: datetime, limit: int = RECOMPUTE_BATCH
) -> int | None:
    """Recompute the clocks of up to ``limit`` incidents not yet completed with an id above
    ``after_id``; returns the last id done, or None when there were none."""
    batch = list(
        await session.execute(
            select(Incident.id, Incident.reporter_id)
            .where(Incident.id > after_id, Incident.status != Status.COMPLETED.value)
            .order_by(Incident.id)
            .limit(limit)
        )
    )
    ids = [row.id for row in batch]
    organisations = await auth.organisations_of(
        session=session, user_ids={row.reporter_id for row in batch}
    )
    for incident_id in ids:
        await refresh_incident_sla(
            session, incident_id=incident_id, now=now, organisations=organisations
        )
    return ids[-1] if ids else None


# -- display --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockView:
    """One target's clock as the API and pages show it."""

    target: str
    policy: str
    calendar: str
    state: str
    goal_s: float
    due_at: datetime | None
    elapsed_s: float
    remaining_s: float
    paused_s: float
    percent: float
    breached: bool
    breached_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "policy": self.policy,
            "calendar": self.calendar,
            "state": self.state,
            "due_at": self.due_at,
            "elapsed_s": self.elapsed_s,
            "remaining_s": self.remaining_s,
            "paused_s": self.paused_s,
            "percent": self.percent,
            "breached": self.breached,
            "breached_at": self.breached_at,
        }


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def clock_label(view: ClockView, now: datetime) -> str:
    """A short English line for a page: "Response: due in 25 min", "Resolution: met", …"""
    name = view.target.capitalize()
    if view.state == ClockState.STOPPED:
        return f"{name}: breached" if view.breached else f"{name}: met"
    if view.state == ClockState.PAUSED:
        return f"{name}: paused ({_duration(view.remaining_s)} left)"
    if view.breached and view.breached_at is not None:
        return f"{name}: breached {_duration((now - view.breached_at).total_seconds())} ago"
    if view.due_at is not None:
        return f"{name}: due in {_duration((view.due_at - now).total_seconds())}"
    return f"{name}: {view.percent:.0f} %"


async def _organisation_of(session: AsyncSession, user_id: str) -> str | None:
    # Cached briefly, like the rest of the reference data: read on every create and view.
    async def load() -> str | None:
        return (await auth.organisations_of(session=session, user_ids=[user_id])).get(user_id)

    return await remember(session, _CACHE, ("organisation", user_id), load)


async def current_clocks(
    session: AsyncSession, incident: Incident, *, now: datetime, just_created: bool = False
) -> list[ClockView]:
    """The incident's clocks computed live at ``now`` (nothing is stored).

    ``just_created``: the incident was created in this transaction, so its history is its
    create row alone and need not be read back (the create path is hot).
    """
    config = await load_config(session)
    if just_created:
        points = [HistoryPoint(at=incident.created_at, status=incident.status, changes=[])]
    else:
        points = (await _histories(session, [incident.id]))[incident.id]
    organisation = await _organisation_of(session, incident.reporter_id)
    policy, clocks = clocks_of(config, incident, points, now, organisation=organisation)
    if policy is None:
        return []
    return [
        ClockView(
            target=target.value,
            policy=policy.key,
            calendar=policy.calendar,
            state=clock.state.value,
            goal_s=clock.goal_s,
            due_at=clock.due_at,
            elapsed_s=clock.elapsed_s,
            remaining_s=clock.remaining_s,
            paused_s=clock.paused_s,
            percent=clock.percent,
            breached=clock.breached,
            breached_at=clock.breached_at,
        )
        for target, clock in clocks.items()
    ]


async def current_clocks_labelled(
    session: AsyncSession, incident: Incident, *, now: datetime
) -> list[tuple[ClockView, str]]:
    """For the web pages: each live clock with its label."""
    return [
        (view, clock_label(view, now)) for view in await current_clocks(session, incident, now=now)
    ]


async def stored_clocks(
    session: AsyncSession, incident_ids: Sequence[int]
) -> dict[int, list[ClockView]]:
    """The clocks as last stored (for lists: no recomputation), per incident."""
    found: dict[int, list[ClockView]] = {i: [] for i in incident_ids}
    if not incident_ids:
        return found
    rows = await session.scalars(
        select(IncidentSla).where(IncidentSla.incident_id.in_(list(incident_ids)))
    )
    for row in sorted(rows, key=lambda r: (r.incident_id, _TARGET_ORDER.get(r.target, 9))):
        found[row.incident_id].append(
            ClockView(
                target=row.target,
                policy=row.policy,
                calendar=row.calendar,
                state=row.state,
                goal_s=row.goal_s,
                due_at=row.due_at,
                elapsed_s=row.elapsed_s,
                remaining_s=row.goal_s - row.elapsed_s,
                paused_s=row.paused_s,
                percent=row.percent,
                breached=row.breached_at is not None,
                breached_at=row.breached_at,
            )
        )
    return found


# -- the sweep ------------------------------------------------------------------------------


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
    histories = await _histories(session, ids)
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
        clock = clocks.get(Target(row.target)) if row.target in _TARGET_ORDER else None
        if policy is None or clock is None:
            await session.delete(row)
            continue
        acted = [p for p in (row.acted or []) if p in {c.percent for c in clock.crossed}]
        pending = _pending(clock, acted) if clock.state is ClockState.RUNNING else []
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
        _store(row, policy, clock, acted, now)
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


# -- administration -------------------------------------------------------------------------


def _invalid(error: ValueError, prefix: str = "") -> ValidationFailed:
    """The domain's "field: reason" message as a ValidationFailed naming that field."""
    message = str(error)
    name, _sep, _rest = message.partition(":")
    field_name = f"{prefix}{name.strip()}" if name and " " not in name.strip() else prefix or None
    return ValidationFailed(f"{prefix}{message}" if prefix else message, field=field_name)


async def _changed(session: AsyncSession, now: datetime) -> None:
    await session.flush()
    forget_config(session)
    await enqueue_recompute(session, now=now)


async def list_calendars(*, session: AsyncSession, caller: Caller) -> list[SlaCalendarRow]:
    auth.require_role(caller, Role.ADMIN)
    return list(await session.scalars(select(SlaCalendarRow).order_by(SlaCalendarRow.key)))


async def get_calendar(*, session: AsyncSession, caller: Caller, key: str) -> SlaCalendarRow:
    auth.require_role(caller, Role.ADMIN)
    row = await session.get(SlaCalendarRow, key)
    if row is None:
        raise NotFound(f"key: no SLA calendar {key!r}", field="key")
    return row


def _check_key(key: str) -> None:
    if not key or len(key) > 64 or not all(c.isalnum() or c in "-_." for c in key):
        raise ValidationFailed("key: 1 to 64 letters, digits, '-', '_' or '.'", field="key")


async def put_calendar(
    *, session: AsyncSession, caller: Caller, key: str, data: CalendarIn, now: datetime
) -> SlaCalendarRow:
    """Create or replace a calendar; every open incident's clocks are recomputed."""
    auth.require_role(caller, Role.ADMIN)
    _check_key(key)
    spans = []
    for index, span in enumerate(data.hours):
        try:
            spans.append(WorkingSpan.parse(span.weekday, span.start, span.end))
        except ValueError as exc:
            raise _invalid(exc, f"hours.{index}.") from None
    try:
        calendar = BusinessCalendar(
            key=key,
            name=data.name,
            time_zone=data.time_zone,
            hours=tuple(spans),
            holidays=dict(data.holidays),
            always_open=data.always_open,
        )
    except ValueError as exc:
        raise _invalid(exc) from None
    values = calendar_values(calendar)
    row = await session.get(SlaCalendarRow, key)
    if row is None:
        row = SlaCalendarRow(key=key)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    await _changed(session, now)
    return row


async def delete_calendar(*, session: AsyncSession, caller: Caller, key: str) -> None:
    row = await get_calendar(session=session, caller=caller, key=key)
    users = list(
        await session.scalars(select(SlaPolicyRow.key).where(SlaPolicyRow.calendar == key))
    )
    if users:
        raise Conflict(
            f"key: calendar {key!r} is used by policies {', '.join(sorted(users))}", field="key"
        )
    await session.delete(row)
    await session.flush()
    forget_config(session)


async def import_holidays(
    *,
    session: AsyncSession,
    caller: Caller,
    key: str,
    now: datetime,
    country: str | None = None,
    years: Sequence[int] = (),
    subdivision: str | None = None,
    ical: bytes | None = None,
) -> tuple[SlaCalendarRow, int]:
    """Add a country's public holidays for some years, or an iCal file's all-day events;
    returns the calendar and how many dates were added."""
    row = await get_calendar(session=session, caller=caller, key=key)
    if row.always_open:
        raise ValidationFailed(
            "key: a 24x7 calendar has no holidays; use seven 00:00-24:00 spans instead",
            field="key",
        )
    if ical is not None:
        try:
            found = holidays_from_ical(ical)
        except ValueError as exc:
            reason = str(exc).removeprefix("data: ")
            raise ValidationFailed(f"file: {reason}", field="file") from None
    elif country is not None:
        try:
            found = holidays_for(country, list(years), subdivision)
        except ValueError as exc:
            raise _invalid(exc) from None
    else:
        raise ValidationFailed(
            "country: give a country and years, or an iCal file", field="country"
        )
    merged = dict(row.holidays or {})
    added = 0
    for day, name in found.items():
        if day.isoformat() not in merged:
            added += 1
        merged[day.isoformat()] = name
    row.holidays = dict(sorted(merged.items()))
    row.updated_at = now
    await _changed(session, now)
    return row, added


async def list_policies(*, session: AsyncSession, caller: Caller) -> list[SlaPolicyRow]:
    auth.require_role(caller, Role.ADMIN)
    return list(
        await session.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.order, SlaPolicyRow.key))
    )


async def get_policy(*, session: AsyncSession, caller: Caller, key: str) -> SlaPolicyRow:
    auth.require_role(caller, Role.ADMIN)
    row = await session.get(SlaPolicyRow, key)
    if row is None:
        raise NotFound(f"key: no SLA policy {key!r}", field="key")
    return row


async def put_policy(
    *, session: AsyncSession, caller: Caller, key: str, data: PolicyIn, now: datetime
) -> SlaPolicyRow:
    """Create or replace a policy; every open incident's clocks are recomputed."""
    auth.require_role(caller, Role.ADMIN)
    _check_key(key)
    if await session.get(SlaCalendarRow, data.calendar) is None:
        raise ValidationFailed(f"calendar: no SLA calendar {data.calendar!r}", field="calendar")
    thresholds = []
    for t_index, threshold in enumerate(data.thresholds):
        actions = []
        for a_index, action in enumerate(threshold.actions):
            where = f"thresholds.{t_index}.actions.{a_index}."
            try:
                kind = ActionKind(action.kind)
            except ValueError:
                names = ", ".join(k.value for k in ActionKind)
                raise ValidationFailed(
                    f"{where}kind: must be one of {names}, got {action.kind!r}",
                    field=f"{where}kind",
                ) from None
            try:
                actions.append(EscalationAction(kind, action.workgroup))
            except ValueError as exc:
                raise _invalid(exc, where) from None
            if action.workgroup is not None:
                try:
                    await assignment_workgroups.check_workgroup(
                        session=session, key=action.workgroup
                    )
                except (NotFound, ValidationFailed):
                    raise ValidationFailed(
                        f"{where}workgroup: no workgroup {action.workgroup!r}",
                        field=f"{where}workgroup",
                    ) from None
        try:
            thresholds.append(Threshold(threshold.percent, tuple(actions)))
        except ValueError as exc:
            raise _invalid(exc, f"thresholds.{t_index}.") from None
    try:
        policy = SlaPolicy(
            key=key,
            name=data.name,
            order=data.order,
            calendar=data.calendar,
            response_s=data.response_s,
            resolution_s=data.resolution_s,
            levels=frozenset(data.levels),
            categories=frozenset(data.categories),
            applications=frozenset(data.applications),
            regions=frozenset(data.regions),
            organisations=frozenset(data.organisations),
            pause_phases=frozenset(data.pause_phases),
            thresholds=tuple(thresholds),
        )
    except ValueError as exc:
        raise _invalid(exc) from None
    row = await session.get(SlaPolicyRow, key)
    if row is None:
        row = SlaPolicyRow(key=key)
        session.add(row)
    for name, value in policy_values(policy).items():
        setattr(row, name, value)
    row.active = data.active
    row.updated_at = now
    await _changed(session, now)
    return row


async def delete_policy(*, session: AsyncSession, caller: Caller, key: str, now: datetime) -> None:
    row = await get_policy(session=session, caller=caller, key=key)
    await session.delete(row)
    await _changed(session, now)


async def reorder_policies(
    *, session: AsyncSession, caller: Caller, keys: Sequence[str], now: datetime
) -> list[SlaPolicyRow]:
    """Put the named policies first, in this order (10, 20, …); the others follow."""
    auth.require_role(caller, Role.ADMIN)
    rows = {row.key: row for row in await list_policies(session=session, caller=caller)}
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key not in rows:
            raise ValidationFailed(f"keys.{index}: no SLA policy {key!r}", field=f"keys.{index}")
        if key in seen:
            raise ValidationFailed(f"keys.{index}: {key!r} is named twice", field=f"keys.{index}")
        seen.add(key)
    rest = [key for key in rows if key not in seen]
    for position, key in enumerate([*keys, *rest], start=1):
        rows[key].order = position * 10
        rows[key].updated_at = now
    await _changed(session, now)
    return await list_policies(session=session, caller=caller)
