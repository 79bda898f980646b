"""An incident's phase timeline from its history, and the clocks its policy gives it.

The clocks are a pure function of the history (``sla.clock``): nothing counts time
incrementally, so a level, policy or calendar change recomputes every clock from creation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.incidents.fields import Status
from opsdesk.incidents.lifecycle import Phase, phase_of
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.sla.clock import PhaseChange, SlaClock, Target
from opsdesk.sla.configuration import SlaConfig
from opsdesk.sla.policies import (
    IncidentFacts,
    SlaPolicy,
    policy_clocks,
)


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


async def histories_of(
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
