"""Alert groups and alerts as the pages and the API show them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.alerts.models import Alert, AlertGroup, Integration
from opsdesk.alerts.payloads import FIRING
from opsdesk.core.errors import NotFound
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import Incident


@dataclass(frozen=True)
class GroupRow:
    """An alert group as the pages and the API show it."""

    id: int
    integration_id: int
    integration: str
    title: str
    labels: dict[str, Any]
    alert_count: int
    firing: int
    first_seen: datetime
    last_seen: datetime
    closed_at: datetime | None
    incident: str | None
    rule_id: int | None


async def list_groups(
    *,
    session: AsyncSession,
    incident_id: int | None = None,
    integration_id: int | None = None,
    open_only: bool = False,
    group_ids: Sequence[int] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[GroupRow]:
    """Newest first; ``firing`` counts the group's alerts firing now."""
    firing = (
        select(func.count())
        .where(Alert.group_id == AlertGroup.id, Alert.status == FIRING)
        .scalar_subquery()
    )
    query = (
        select(AlertGroup, Integration.name, Incident.number, firing)
        .join(Integration, Integration.id == AlertGroup.integration_id)
        .outerjoin(Incident, Incident.id == AlertGroup.incident_id)
        .order_by(AlertGroup.last_seen.desc(), AlertGroup.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if incident_id is not None:
        query = query.where(AlertGroup.incident_id == incident_id)
    if integration_id is not None:
        query = query.where(AlertGroup.integration_id == integration_id)
    if open_only:
        query = query.where(AlertGroup.closed_at.is_(None))
    if group_ids is not None:
        query = query.where(AlertGroup.id.in_(group_ids))
    rows = await session.execute(query)
    return [
        GroupRow(
            id=group.id,
            integration_id=group.integration_id,
            integration=name,
            title=group.title,
            labels=group.labels,
            alert_count=group.alert_count,
            firing=int(count or 0),
            first_seen=group.first_seen,
            last_seen=group.last_seen,
            closed_at=group.closed_at,
            incident=number,
            rule_id=group.rule_id,
        )
        for group, name, number, count in rows.all()
    ]


async def get_group(*, session: AsyncSession, group_id: int) -> GroupRow:
    found = await list_groups(session=session, group_ids=[group_id], limit=1)
    if not found:
        raise NotFound(f"no alert group {group_id}", field="group_id")
    return found[0]


async def alerts_of(*, session: AsyncSession, group_id: int, limit: int = 500) -> list[Alert]:
    rows = await session.scalars(
        select(Alert)
        .where(Alert.group_id == group_id)
        .order_by(Alert.last_seen.desc(), Alert.id)
        .limit(limit)
    )
    return list(rows)


async def storming_incidents(
    *, session: AsyncSession, threshold: int, limit: int = 100
) -> list[tuple[int, int]]:
    """(incident id, alert count) of open, not yet major incidents with an open alert group
    of at least ``threshold`` alerts: the alert-storm rule of major incidents."""
    rows = await session.execute(
        select(AlertGroup.incident_id, func.max(AlertGroup.alert_count))
        .join(Incident, Incident.id == AlertGroup.incident_id)
        .where(
            AlertGroup.closed_at.is_(None),
            AlertGroup.alert_count >= threshold,
            Incident.major.is_(False),
            Incident.status.in_((Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)),
        )
        .group_by(AlertGroup.incident_id)
        .order_by(AlertGroup.incident_id)
        .limit(limit)
    )
    return [(int(incident_id), int(count)) for incident_id, count in rows if incident_id]
