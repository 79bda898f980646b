"""Stored clocks: ``incident_sla`` rows with the instant of the next threshold (``next_at``),
refreshed in the transaction of each change, recomputed in batches after a configuration
change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.core import jobs
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import Incident
from opsdesk.sla.clock import ClockState, SlaClock, Target
from opsdesk.sla.configuration import load_config
from opsdesk.sla.models import IncidentSla
from opsdesk.sla.policies import (
    SlaPolicy,
)
from opsdesk.sla.timeline import clocks_of, histories_of, reporter_organisations

TARGET_ORDER = {Target.RESPONSE.value: 0, Target.RESOLUTION.value: 1}
RECOMPUTE_BATCH = 500
REFRESH_JOB = "sla.refresh"


def pending_crossings(clock: SlaClock, acted: Iterable[float]) -> list[tuple[float, datetime]]:
    """Thresholds crossed and not yet escalated, lowest first."""
    done = set(acted)
    return [(c.percent, c.at) for c in clock.crossed if c.percent not in done]


def _schedule(clock: SlaClock, acted: Sequence[float]) -> tuple[datetime | None, float | None]:
    """When the sweep must look at this clock next, and for which threshold."""
    if clock.state is not ClockState.RUNNING:
        return None, None
    pending = pending_crossings(clock, acted)
    if pending:
        return pending[0][1], pending[0][0]
    if clock.next_threshold is not None:
        return clock.next_threshold.at, clock.next_threshold.percent
    return None, None


def store_clocks(
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
    points = (await histories_of(session, [incident_id]))[incident_id]
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
            store_clocks(row, policy, clock, row.acted or [], now)
            stored.append(row)
    for row in existing.values():
        await session.delete(row)
    await session.flush()
    return sorted(stored, key=lambda r: TARGET_ORDER.get(r.target, 9))


async def enqueue_refresh(session: AsyncSession, *, incident_id: int, now: datetime) -> bool:
    """Recompute the incident's clocks soon, in a job (one waiting job per incident)."""
    return await jobs.enqueue(
        session,
        kind=REFRESH_JOB,
        payload={"incident_id": incident_id},
        now=now,
        dedupe_key=f"{REFRESH_JOB}:{incident_id}",
    )


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
