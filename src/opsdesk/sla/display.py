"""Clocks for people and clients: current (computed now) and stored views, readable labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth
from opsdesk.core.cache import remember
from opsdesk.incidents.models import Incident
from opsdesk.sla.clock import ClockState
from opsdesk.sla.clocks import TARGET_ORDER
from opsdesk.sla.configuration import CACHE, load_config
from opsdesk.sla.models import IncidentSla
from opsdesk.sla.timeline import HistoryPoint, clocks_of, histories_of


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

    return await remember(session, CACHE, ("organisation", user_id), load)


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
        points = (await histories_of(session, [incident.id]))[incident.id]
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
    for row in sorted(rows, key=lambda r: (r.incident_id, TARGET_ORDER.get(r.target, 9))):
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
